//! Where values come from: a flow-insensitive fixpoint over the whole program that labels every
//! variable (local, parameter, state), and every function's return value, with the source reads
//! whose values can reach it — through assignments, declarations, `push`, internal calls
//! (arguments into parameters, return values out, each call's value carrying only its own
//! arguments) and state variables written in one function and read in another. A struct's members are kept apart (`acc.balance` does not carry what was
//! written to `acc.unlockTime`), a local storage pointer writes the state it points into, and a
//! detector chooses whether a mapping key's labels reach the value read with it. Detectors ask
//! which sources reach the places they care about.

use crate::{
    ast::{Function, Node},
    program::Program,
};
use std::collections::{BTreeSet, HashMap, HashSet};

/// The source reads (node ids) a value may carry.
pub type Labels = BTreeSet<i64>;

/// Which paths carry labels.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Everything that can influence a value: a mapping key (who chose the key chose the
    /// entry read), state written by one call and read by another, the arguments of a call to
    /// another contract (its answer may depend on them).
    Influence,
    /// The value itself as one transaction's call computes it from its inputs: `balances[to]`
    /// holds no more of the caller's choosing whoever picked `to`; what an earlier call stored is
    /// left to that call's own checks; another contract's answer is that contract's.
    CallValue,
}

/// A variable and the struct member written or read through it: `acc.balance`, `m[k].balance`
/// and `acc` (no member) are three places.
type Place<'a> = (i64, Option<&'a str>);

pub struct Taint<'p, 'a> {
    program: &'p Program<'a>,
    source: &'p dyn Fn(Node<'a>) -> bool,
    flow: Flow,
    /// A source that is a call (`blockhash(n)`) is its own value: what its arguments carry
    /// (the height choosing which hash) does not pass through it.
    opaque_calls: bool,
    /// Declaration id (variable or function return) → member (none: the whole value) → labels.
    held: HashMap<i64, HashMap<Option<&'a str>, Labels>>,
    /// Local storage pointers → the state variable they point into (`Acc storage a = accs[k]`):
    /// a write through the pointer writes the state variable.
    aliases: HashMap<i64, i64>,
    /// Functions whose calls are summarised by what they return: those with a body and no
    /// inline assembly (found once, not at every call in every round).
    summarised: HashSet<i64>,
    /// A summarised function's parameter → the labels its calls pass to it. The parameter
    /// itself holds only its own label ([`parameter_label`]), so that each call's return value
    /// carries that call's arguments; [`Taint::labels`] resolves the label to all of them.
    passed: HashMap<i64, Labels>,
}

/// The label standing for "what the calls pass to parameter `id`" (node ids are never
/// negative, so these cannot be confused with a source read).
fn parameter_label(id: i64) -> i64 {
    -1 - id
}

/// The parameter a label stands for, if it is a parameter label.
fn parameter_of(label: i64) -> Option<i64> {
    (label < 0).then(|| -1 - label)
}

/// Each parameter of `called` that `call` passes a value to, with that value
/// ([`crate::ast::arguments_for`]).
fn arguments_of<'a>(call: Node<'a>, called: Function<'a>) -> Vec<(i64, Node<'a>)> {
    called
        .parameters()
        .zip(crate::ast::arguments_for(call, called))
        .filter_map(|(parameter, argument)| Some((parameter.id()?, argument)))
        .collect()
}

/// The variable an assignment target writes: `x`, `x[i]`, `x.f`, `x[i].f` all write `x`.
pub fn written_variable(target: Node<'_>) -> Option<i64> {
    place(target).map(|(variable, _)| variable)
}

/// The variable `target` writes and the member nearest to it: `x[i].f` is `(x, Some("f"))`.
pub fn written_place<'a>(target: Node<'a>) -> Option<(i64, Option<&'a str>)> {
    place(target)
}

/// The variable and the member nearest to it that `target` names: `x[i].f.g` is `(x, f)`,
/// `x[i]` is `(x, none)`.
fn place<'a>(target: Node<'a>) -> Option<Place<'a>> {
    let mut node = target;
    let mut member = None;
    loop {
        match node.kind() {
            "Identifier" => return node.referenced().map(|id| (id, member)),
            "IndexAccess" => node = node.child("baseExpression")?,
            "MemberAccess" => {
                member = Some(node.name_of_member());
                node = node.child("expression")?;
            }
            "TupleExpression" => node = node.children("components").next()?,
            _ => return None,
        }
    }
}

/// Whether `expr` reads a whole stored value: `x` or `x[i]`, no member and no computation.
fn whole_value(expr: Node<'_>) -> bool {
    match expr.kind() {
        "Identifier" => true,
        "IndexAccess" => expr.child("baseExpression").is_some_and(whole_value),
        _ => false,
    }
}

impl<'p, 'a> Taint<'p, 'a> {
    /// Labels every value of `program` with the reads `source` picks, along every path that
    /// can influence it ([`Flow::Influence`]).
    pub fn new(program: &'p Program<'a>, source: &'p dyn Fn(Node<'a>) -> bool) -> Self {
        Self::with_flow(program, source, Flow::Influence)
    }

    /// As [`Taint::new`], except that sources which are calls pass on nothing of their
    /// arguments: `blockhash(h)` carries itself, not `h`'s labels.
    pub fn with_opaque_source_calls(
        program: &'p Program<'a>,
        source: &'p dyn Fn(Node<'a>) -> bool,
    ) -> Self {
        Self::build(program, source, Flow::Influence, true)
    }

    /// As [`Taint::new`], with `flow` saying which paths carry labels.
    pub fn with_flow(
        program: &'p Program<'a>,
        source: &'p dyn Fn(Node<'a>) -> bool,
        flow: Flow,
    ) -> Self {
        Self::build(program, source, flow, false)
    }

    fn build(
        program: &'p Program<'a>,
        source: &'p dyn Fn(Node<'a>) -> bool,
        flow: Flow,
        opaque_calls: bool,
    ) -> Self {
        let mut taint = Self {
            program,
            source,
            flow,
            opaque_calls,
            held: HashMap::new(),
            aliases: HashMap::new(),
            summarised: program
                .functions()
                .filter(|(_, f)| {
                    f.body()
                        .is_some_and(|body| !body.any(&mut |n| n.is("InlineAssembly")))
                })
                .filter_map(|(_, f)| f.node().id())
                .collect(),
            passed: HashMap::new(),
        };
        taint.find_aliases();
        for (_, function) in program.functions() {
            if function
                .node()
                .id()
                .is_some_and(|id| taint.summarised.contains(&id))
            {
                for id in function.parameters().filter_map(|p| p.id()) {
                    taint.add((id, None), Labels::from([parameter_label(id)]));
                }
            }
        }
        // Each round can only add labels, and there are finitely many: it ends.
        for _ in 0..64 {
            if !taint.round() {
                break;
            }
        }
        taint
    }

    /// The labels of expression `expr`.
    pub fn labels(&self, expr: Node<'a>) -> Labels {
        self.resolved(self.raw(expr))
    }

    /// The labels of `expr` as the fixpoint keeps them: a parameter of a summarised function
    /// stands for what its calls pass ([`parameter_label`]).
    fn raw(&self, expr: Node<'a>) -> Labels {
        let mut labels = Labels::new();
        self.collect(expr, &mut labels);
        labels
    }

    /// `labels` with every parameter label replaced by what any call passes to the parameter.
    fn resolved(&self, labels: Labels) -> Labels {
        let mut resolved = Labels::new();
        let mut seen = HashSet::new();
        let mut pending: Vec<i64> = labels.into_iter().collect();
        while let Some(label) = pending.pop() {
            match parameter_of(label) {
                None => {
                    resolved.insert(label);
                }
                Some(parameter) => {
                    if seen.insert(parameter)
                        && let Some(passed) = self.passed.get(&parameter)
                    {
                        pending.extend(passed.iter().copied());
                    }
                }
            }
        }
        resolved
    }

    fn collect(&self, node: Node<'a>, labels: &mut Labels) {
        if (self.source)(node) {
            labels.extend(node.id());
            if self.opaque_calls && node.is("FunctionCall") {
                return;
            }
        }
        match node.kind() {
            "Identifier" => {
                if let Some(id) = node.referenced() {
                    labels.extend(self.held(id));
                }
                return;
            }
            "MemberAccess" => {
                // `x.f` and `x[i].f`: what was written to that member, or to the whole value.
                if let Some((variable, Some(member))) = place(node)
                    && node.name_of_member() == member
                {
                    if let Some(members) = self.held.get(&variable) {
                        for key in [Some(member), None] {
                            labels.extend(members.get(&key).into_iter().flatten());
                        }
                    }
                    self.collect_keys(node, labels);
                    return;
                }
            }
            "IndexAccess" if self.flow == Flow::CallValue => {
                if let Some(base) = node.child("baseExpression") {
                    self.collect(base, labels);
                }
                return;
            }
            "FunctionCall" => {
                if self.flow == Flow::CallValue && self.calls_another_contract(node) {
                    return;
                }
                if let Some(called) = self.called_function(node)
                    && let Some(id) = called.node().id()
                {
                    // With its body here, the function's return values are the summary: the
                    // arguments reach them only through its parameters (`parse(s)` returning a
                    // digit's value carries `s`; `isOwner(a)` returning a flag it looked up
                    // does not), and only this call's arguments (`mul(a, b)` here does not
                    // carry what another call multiplied). Assembly can return anything: then
                    // the arguments count too.
                    if self.summarised.contains(&id) {
                        let arguments = arguments_of(node, called);
                        for label in self.held(id) {
                            match parameter_of(label)
                                .and_then(|p| arguments.iter().find(|(q, _)| *q == p))
                            {
                                Some((_, argument)) => self.collect(*argument, labels),
                                None => {
                                    labels.insert(label);
                                }
                            }
                        }
                        return;
                    }
                    labels.extend(self.held(id));
                }
            }
            _ => {}
        }
        for child in node.subnodes() {
            self.collect(child, labels);
        }
    }

    /// The labels of the keys in a place expression (`m[k].f`: `k`'s), when keys count.
    fn collect_keys(&self, mut node: Node<'a>, labels: &mut Labels) {
        loop {
            match node.kind() {
                "IndexAccess" => {
                    if self.flow == Flow::Influence
                        && let Some(key) = node.child("indexExpression")
                    {
                        self.collect(key, labels);
                    }
                    match node.child("baseExpression") {
                        Some(base) => node = base,
                        None => return,
                    }
                }
                "MemberAccess" => match node.child("expression") {
                    Some(base) => node = base,
                    None => return,
                },
                _ => return,
            }
        }
    }

    /// The labels variable (or function) `id` holds, parameter labels unresolved.
    fn held(&self, id: i64) -> Labels {
        self.held
            .get(&id)
            .into_iter()
            .flat_map(|members| members.values().flatten().copied())
            .collect()
    }

    /// The function of this program a call calls, if any ([`Program::called_function`]).
    pub fn called_function(&self, call: Node<'a>) -> Option<Function<'a>> {
        self.program.called_function(call)
    }

    /// Whether `call` calls a function of another contract (`token.balanceOf(a)`), not one of
    /// this program's own, a conversion or a builtin.
    /// (The program may declare that contract's interface, or hold its code: the call still
    /// runs at whatever address the value names.)
    fn calls_another_contract(&self, call: Node<'a>) -> bool {
        call.str("kind") == Some("functionCall")
            && crate::ast::callee(call).is_some_and(|callee| {
                callee.is("MemberAccess")
                    && callee.type_identifier().starts_with("t_function_external")
                    && callee.child("expression").is_some_and(|base| {
                        base.type_string().starts_with("contract ") && base.name() != "this"
                    })
            })
    }

    fn add(&mut self, (id, member): Place<'a>, labels: Labels) -> bool {
        if labels.is_empty()
            || (self.flow == Flow::CallValue
                && (self.program.is_state_variable(id) || self.aliases.contains_key(&id)))
        {
            return false;
        }
        let mut changed = false;
        for variable in std::iter::once(id).chain(self.aliases.get(&id).copied()) {
            let held = self
                .held
                .entry(variable)
                .or_default()
                .entry(member)
                .or_default();
            let before = held.len();
            held.extend(labels.iter().copied());
            changed |= held.len() > before;
        }
        changed
    }

    /// What assigning `value` to `target` writes: a whole stored value (`a = accs[k]`) member
    /// by member, anything else as one value.
    fn assigned(&self, target: Place<'a>, value: Node<'a>) -> Vec<(Place<'a>, Labels)> {
        if target.1.is_none()
            && let Some(members) = self.struct_members(value)
        {
            // `assets[id] = Asset(msg.sender, meta, block.timestamp)`: each argument is its
            // member's (`.owner` carries the caller, not the time).
            return members
                .into_iter()
                .map(|(member, argument)| ((target.0, Some(member)), self.raw(argument)))
                .collect();
        }
        let mut writes = vec![(target, self.raw(value))];
        if target.1.is_none()
            && whole_value(value)
            && let Some((source, None)) = place(value)
            && let Some(members) = self.held.get(&source)
        {
            // Member labels stay with their member, not with the whole value.
            let mut whole = Labels::new();
            if self.flow == Flow::Influence {
                self.collect_keys(value, &mut whole);
            }
            whole.extend(members.get(&None).into_iter().flatten());
            writes = members
                .iter()
                .filter_map(|(member, labels)| {
                    member.map(|m| ((target.0, Some(m)), labels.clone()))
                })
                .collect();
            writes.push((target, whole));
        }
        writes
    }

    /// The members a struct constructor call (`Asset(a, b)`, `Asset({owner: a, meta: b})`) gives,
    /// each with its argument; `None` for anything else.
    fn struct_members(&self, value: Node<'a>) -> Option<Vec<(&'a str, Node<'a>)>> {
        if !(value.is("FunctionCall") && value.str("kind") == Some("structConstructorCall")) {
            return None;
        }
        let definition = self
            .program
            .declaration(value.child("expression")?.referenced()?)?;
        let members: Vec<&'a str> = definition.children("members").map(|m| m.name()).collect();
        let arguments: Vec<Node<'a>> = value.children("arguments").collect();
        let names: Vec<&'a str> = value
            .0
            .get("names")
            .and_then(|n| n.as_array())
            .map(|n| n.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let named: Vec<&'a str> = if names.is_empty() { members } else { names };
        (named.len() == arguments.len()).then(|| named.into_iter().zip(arguments).collect())
    }

    /// Local storage pointers initialised from a state variable's place.
    fn find_aliases(&mut self) {
        let program = self.program;
        for (_, function) in program.functions() {
            let Some(body) = function.body() else {
                continue;
            };
            body.walk(&mut |node, _| {
                if node.is("VariableDeclarationStatement")
                    && let Some(value) = node.child("initialValue")
                    && let Some(state) = written_variable(value)
                    && program.is_state_variable(state)
                {
                    for declared in node.children("declarations") {
                        if declared.type_identifier().ends_with("_storage_ptr")
                            && let Some(id) = declared.id()
                        {
                            self.aliases.insert(id, state);
                        }
                    }
                }
                true
            });
        }
    }

    /// One pass over every function and state variable; whether anything changed.
    fn round(&mut self) -> bool {
        let mut changed = false;
        let program = self.program;
        for contract in &program.contracts {
            for variable in contract.state_variables() {
                if let (Some(id), Some(value)) = (variable.id(), variable.child("value")) {
                    let labels = self.raw(value);
                    changed |= self.add((id, None), labels);
                }
            }
        }
        for (_, function) in program.functions() {
            let Some(body) = function.body() else {
                continue;
            };
            let function_id = function.node().id();
            let mut updates: Vec<(Place<'a>, Labels)> = Vec::new();
            let mut passed: Vec<(i64, Labels)> = Vec::new();
            body.walk(&mut |node, _| {
                match node.kind() {
                    "Assignment" => {
                        if let (Some(target), Some(value)) = (
                            node.child("leftHandSide").and_then(place),
                            node.child("rightHandSide"),
                        ) {
                            updates.extend(self.assigned(target, value));
                        }
                    }
                    "VariableDeclarationStatement" => {
                        if let Some(value) = node.child("initialValue") {
                            let declared: Vec<i64> = node
                                .children("declarations")
                                .filter_map(|d| d.id())
                                .collect();
                            match declared[..] {
                                [one] => updates.extend(self.assigned((one, None), value)),
                                _ => {
                                    let labels = self.raw(value);
                                    updates.extend(
                                        declared.into_iter().map(|id| ((id, None), labels.clone())),
                                    );
                                }
                            }
                        }
                    }
                    "Return" => {
                        if let (Some(id), Some(value)) = (function_id, node.child("expression")) {
                            updates.push(((id, None), self.raw(value)));
                        }
                    }
                    "FunctionCall" => {
                        // `list.push(v)` writes `list`.
                        if let Some(callee) = node.child("expression")
                            && callee.is("MemberAccess")
                            && callee.name_of_member() == "push"
                            && let Some(list) =
                                callee.child("expression").and_then(written_variable)
                        {
                            for argument in node.children("arguments") {
                                updates.push(((list, None), self.raw(argument)));
                            }
                        }
                        // Arguments flow into the parameters of an internal call; a library
                        // function bound with `using for` takes its receiver first
                        // (`a.add(b)` is `add(a, b)`). A summarised function's parameters
                        // keep their own label, which stands for all of this.
                        if let Some(called) = self.called_function(node) {
                            let summarised = called
                                .node()
                                .id()
                                .is_some_and(|id| self.summarised.contains(&id));
                            for (parameter, argument) in arguments_of(node, called) {
                                let labels = self.raw(argument);
                                if summarised {
                                    passed.push((parameter, labels));
                                } else {
                                    updates.push(((parameter, None), labels));
                                }
                            }
                        }
                    }
                    _ => {}
                }
                true
            });
            // Named return variables are what the function returns.
            if let Some(id) = function_id {
                for returned in function
                    .node()
                    .child("returnParameters")
                    .into_iter()
                    .flat_map(|p| p.children("parameters"))
                {
                    if let Some(r) = returned.id() {
                        updates.push(((id, None), self.held(r)));
                    }
                }
            }
            for (id, labels) in updates {
                changed |= self.add(id, labels);
            }
            for (parameter, labels) in passed {
                let held = self.passed.entry(parameter).or_default();
                let before = held.len();
                held.extend(labels);
                changed |= held.len() > before;
            }
        }
        changed
    }
}
