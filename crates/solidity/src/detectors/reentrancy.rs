//! Reentrancy (SWC-107), the DAO's bug: a function calls another contract and only afterwards
//! updates state it checked before the call, so the callee can call back in while the state
//! still says the first call has not happened. Each entry function is read as one sequence of
//! state reads, state writes and external calls in execution order, with its modifiers inlined
//! around the body and internal calls inlined at their call site (three levels deep); a call
//! after which a state variable read before it is written is reported at the call, or at the
//! internal call or modifier that leads to it. A lock taken before the call and released after
//! (`nonReentrant`, a `locked` flag) clears it.

use crate::{
    Category, Finding, Rule, Severity,
    ast::{Function, FunctionKind, Node, callee, unconverted},
    program::Program,
    taint::written_variable,
};
use std::collections::HashSet;

pub const ETH: Rule = Rule {
    id: "reentrancy-eth",
    title: "Reentrancy: ether sent before the state is updated",
    swc: &["SWC-107"],
    category: Category::Reentrancy,
    severity: Severity::High,
    explanation: "Ether is sent with a call that forwards all remaining gas, and state the \
        function checked before (a balance, a 'paid' flag) is written only after the call. The \
        recipient's code runs during the call and can call this function again: the check still \
        passes and the payment repeats until the contract is drained (the DAO, 2016).",
    fix: "Checks-effects-interactions: update the state before the call (`balances[msg.sender] \
        = 0;` then send), or guard the function with a reentrancy lock (OpenZeppelin's \
        `nonReentrant`), or send with `transfer` / pull payments.",
};

pub const NO_ETH: Rule = Rule {
    id: "reentrancy-no-eth",
    title: "Reentrancy: external call before the state is updated",
    swc: &["SWC-107"],
    category: Category::Reentrancy,
    severity: Severity::Medium,
    explanation: "The function calls another contract, and state it read before the call is \
        written after it. The called contract (or a token's hook) can call back into this \
        contract while that state is stale and act on it twice.",
    fix: "Write the state before the external call (checks-effects-interactions), or guard \
        the functions that share the state with a reentrancy lock.",
};

#[derive(Clone, Copy)]
enum Event<'a> {
    /// A state read; `own` when it is the variable's own value in an additive update of itself
    /// (`v[k] += x`, `v[k] = v[k] + x`, `v[k] = v[k].add(x)`), where the old value decides
    /// nothing but the sum.
    Read {
        variable: i64,
        own: bool,
    },
    Write(i64, Update),
    /// An external call: where to report it, and whether it sends ether with gas to spare.
    Call {
        site: Node<'a>,
        value: bool,
    },
    /// A `require` or `assert`: its condition is [`Collector::checks`] at this index.
    Check(usize),
    Placeholder,
}

/// How a write changes its variable.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Update {
    /// Adds an amount that does not depend on the variable.
    Add,
    /// Subtracts such an amount.
    Sub,
    /// Anything else: a value replaced, deleted, pushed.
    Set,
}

/// Marks the reads of `variable` among `events` as its own old value in an update of itself.
/// Reads of other variables (the target's indices) stay as they are.
fn own_reads(events: &mut [Event<'_>], variable: i64) {
    for event in events {
        if let Event::Read { variable: v, own } = event
            && *v == variable
        {
            *own = true;
        }
    }
}

/// The operand of an assignment that is its target's own old value, and how the assignment
/// changes the target: `t += x` is `(t, Add)`, `t = t - x` is `(t, Sub)`, `t = t.add(x)`
/// (a pure library function, SafeMath's) is `(t, Add)`; the amount `x` is the other operand.
/// `None` for any other assignment.
fn additive_update<'a>(
    program: &Program<'_>,
    assignment: Node<'a>,
) -> Option<(Node<'a>, Node<'a>, Update)> {
    let target = assignment.child("leftHandSide")?;
    let value = assignment.child("rightHandSide")?;
    match assignment.str("operator")? {
        "+=" => return Some((target, value, Update::Add)),
        "-=" => return Some((target, value, Update::Sub)),
        "=" => {}
        _ => return None,
    }
    let same = |node: Node<'_>| program.text(unconverted(node)) == program.text(target);
    let value = unconverted(value);
    match value.kind() {
        "BinaryOperation" => {
            let left = value.child("leftExpression")?;
            let right = value.child("rightExpression")?;
            match value.str("operator")? {
                "+" if same(left) => Some((left, right, Update::Add)),
                "+" if same(right) => Some((right, left, Update::Add)),
                "-" if same(left) => Some((left, right, Update::Sub)),
                _ => None,
            }
        }
        "FunctionCall" => {
            let member = callee(value).filter(|c| c.is("MemberAccess"))?;
            let own = member.child("expression").filter(|e| same(*e))?;
            let mut arguments = value.children("arguments");
            let (Some(amount), None) = (arguments.next(), arguments.next()) else {
                return None;
            };
            // A library function that cannot write state: SafeMath's (`constant` before 0.4.17).
            let pure = ["t_function_internal_pure", "t_function_internal_view"]
                .iter()
                .any(|t| member.type_identifier().starts_with(t));
            match member.name_of_member() {
                "add" if pure => Some((own, amount, Update::Add)),
                "sub" if pure => Some((own, amount, Update::Sub)),
                _ => None,
            }
        }
        _ => None,
    }
}

struct Collector<'p, 'a> {
    program: &'p Program<'a>,
    state: HashSet<i64>,
    /// Local storage pointers (`Holder storage h = holders[a];`, 0.4's `var h = holders[a];`)
    /// → the state variable they point into.
    aliases: std::collections::HashMap<i64, i64>,
    /// Functions being inlined, against recursion.
    inlining: Vec<i64>,
    /// Values kept at slots the code computes ([`Collector::slot_place`]): id → how to name it.
    slots: std::collections::HashMap<i64, String>,
    /// Calls on contracts the calling function created ([`calls_on_created_contracts`]).
    created: HashSet<i64>,
    /// The conditions of the `require`s and `assert`s met so far ([`Event::Check`]): the
    /// condition's text and the state it reads.
    checks: Vec<(String, HashSet<i64>)>,
}

/// Whether `call` is a `STATICCALL`: `address.staticcall(…)`, or (solc 0.5 and later) a call of
/// another contract's `view` or `pure` function.
fn static_call(program: &Program<'_>, call: Node<'_>) -> bool {
    let Some(target) = callee(call).filter(|t| t.is("MemberAccess")) else {
        return false;
    };
    target.name_of_member() == "staticcall"
        && target
            .child("expression")
            .is_some_and(|b| b.type_string().starts_with("address"))
        || (program.static_view_calls
            && ["t_function_external_view", "t_function_external_pure"]
                .iter()
                .any(|t| target.type_identifier().starts_with(t)))
}

/// The calls, by id, on a contract the same function created (`Pair p = new Pair(); p.init()`,
/// or an address `create2` gave in assembly from `type(Pair).creationCode`): what runs is the
/// program's own code, not a stranger's.
pub(super) fn calls_on_created_contracts(program: &Program<'_>) -> HashSet<i64> {
    let mut found = HashSet::new();
    for (_, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        // Locals holding a contract created here, and locals holding creation code.
        let mut created: HashSet<i64> = HashSet::new();
        let mut creation_code: Vec<String> = Vec::new();
        let is_new = |value: Node<'_>| {
            value.is("FunctionCall")
                && value
                    .child("expression")
                    .is_some_and(|e| e.is("NewExpression"))
                && !value.type_string().contains("[]")
                && !matches!(value.type_string(), "bytes memory" | "string memory")
        };
        body.walk(&mut |node, _| {
            match node.kind() {
                "VariableDeclarationStatement" => {
                    let declared: Vec<Node<'_>> = node.children("declarations").collect();
                    if let ([variable], Some(value)) = (&declared[..], node.child("initialValue")) {
                        let value = unconverted(value);
                        if is_new(value) {
                            created.extend(variable.id());
                        } else if value.is("MemberAccess")
                            && value.name_of_member() == "creationCode"
                        {
                            creation_code.push(variable.name().to_owned());
                        }
                    }
                }
                "Assignment" if node.str("operator") == Some("=") => {
                    if let (Some(target), Some(value)) =
                        (node.child("leftHandSide"), node.child("rightHandSide"))
                        && is_new(unconverted(value))
                        && target.is("Identifier")
                    {
                        created.extend(target.referenced());
                    }
                }
                "InlineAssembly" => {
                    let text = program.text(node);
                    for local in locals(function) {
                        let assigned = [":=create2(", ":=create("]
                            .iter()
                            .any(|op| text.contains(&format!("{}{op}", local.name())));
                        if assigned
                            && creation_code
                                .iter()
                                .any(|code| text.contains(code.as_str()))
                        {
                            created.extend(local.id());
                        }
                    }
                }
                _ => {}
            }
            true
        });
        if created.is_empty() {
            continue;
        }
        body.walk(&mut |node, _| {
            if node.is("FunctionCall")
                && let Some(target) = callee(node).filter(|t| t.is("MemberAccess"))
                && let Some(base) = target.child("expression").map(unconverted)
                && base.is("Identifier")
                && base.referenced().is_some_and(|id| created.contains(&id))
            {
                found.extend(node.id());
            }
            true
        });
    }
    found
}

/// The variables `function` declares: parameters, named returns and locals.
fn locals<'a>(function: Function<'a>) -> Vec<Node<'a>> {
    let mut found = Vec::new();
    function.node().walk(&mut |node, _| {
        if node.is("VariableDeclaration") {
            found.push(node);
        }
        true
    });
    found
}

/// Whether a call is a call into another contract, and whether it sends ether.
fn external_call(call: Node<'_>) -> Option<bool> {
    let target = callee(call)?;
    if !target.is("MemberAccess") {
        return None;
    }
    let sends = {
        let mut expression = call.child("expression");
        let mut value = false;
        while let Some(e) = expression {
            match e.kind() {
                "FunctionCallOptions" => {
                    value |= e.0["names"]
                        .as_array()
                        .is_some_and(|n| n.iter().any(|n| n == "value"));
                    expression = e.child("expression");
                }
                "FunctionCall" => {
                    let inner = e.child("expression");
                    value |= inner
                        .is_some_and(|i| i.is("MemberAccess") && i.name_of_member() == "value");
                    expression = inner.and_then(|i| i.child("expression"));
                }
                _ => break,
            }
        }
        value
    };
    let base = target.child("expression")?;
    let member = target.name_of_member();
    if base.type_string().starts_with("address") {
        // `transfer` and `send` forward 2,300 gas: too little to call back. `delegatecall`
        // runs the target's code as this contract, not a stranger that could call back: a
        // target the caller chooses is `controlled-delegatecall`, and one the contract trusts
        // (a proxy's implementation, a library) is its own behaviour.
        return (member == "call").then_some(sends);
    }
    let external = target.0["typeDescriptions"]["typeIdentifier"]
        .as_str()
        .is_some_and(|t| t.starts_with("t_function_external"));
    // A call on `this` re-enters ourselves, not a stranger.
    let on_this = base.is("Identifier") && base.name() == "this";
    (external && !on_this).then_some(sends)
}

impl<'p, 'a> Collector<'p, 'a> {
    fn new(program: &'p Program<'a>) -> Self {
        let mut state = HashSet::new();
        for contract in &program.contracts {
            for variable in contract.state_variables() {
                // Constants and immutables cannot be written after construction.
                let fixed = variable.flag("constant")
                    || variable.str("mutability").is_some_and(|m| m != "mutable");
                if !fixed && let Some(id) = variable.id() {
                    state.insert(id);
                }
            }
        }
        Self {
            program,
            state,
            aliases: Default::default(),
            inlining: Vec::new(),
            slots: Default::default(),
            created: calls_on_created_contracts(program),
            checks: Vec::new(),
        }
    }

    /// A value kept at a storage slot the code computes — `X.value` where `X` is a call that
    /// returns a storage pointer (`StorageSlot.getUint256Slot(k).value`, where OpenZeppelin 5
    /// keeps its reentrancy status): a place of its own, the same wherever the same expression
    /// reaches it. Its id is negative (solc's are not) and derived from the expression's text.
    fn slot_place(&mut self, node: Node<'a>) -> Option<i64> {
        use std::hash::{Hash, Hasher};
        if !node.is("MemberAccess") {
            return None;
        }
        let base = node.child("expression")?;
        if !base.is("FunctionCall") || !base.type_identifier().ends_with("_storage_ptr") {
            return None;
        }
        let text = format!("{}.{}", self.program.text(base), node.name_of_member());
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut hasher);
        let id = -((hasher.finish() >> 1) as i64) - 1;
        self.slots.insert(id, text);
        Some(id)
    }

    /// How a place is named in a message: a state variable's name, a slot's expression.
    fn name(&self, id: i64) -> String {
        match self.slots.get(&id) {
            Some(text) => text.clone(),
            None => self
                .program
                .declaration(id)
                .map(|d| d.name().to_owned())
                .unwrap_or_default(),
        }
    }

    /// The state variable `id` is, or points into.
    fn state_of(&self, id: Option<i64>) -> Option<i64> {
        let id = id?;
        if self.state.contains(&id) {
            return Some(id);
        }
        self.aliases.get(&id).copied()
    }

    /// The events of `node` in execution order; calls inlined from elsewhere are reported at
    /// `site` when given.
    fn collect(&mut self, node: Node<'a>, site: Option<Node<'a>>, events: &mut Vec<Event<'a>>) {
        match node.kind() {
            "PlaceholderStatement" => events.push(Event::Placeholder),
            "Identifier" => {
                events.extend(
                    self.state_of(node.referenced())
                        .map(|variable| Event::Read {
                            variable,
                            own: false,
                        }),
                );
            }
            "VariableDeclarationStatement" => {
                if let Some(value) = node.child("initialValue") {
                    self.collect(value, site, events);
                    let pointee = self.state_of(written_variable(value));
                    for declared in node.children("declarations") {
                        let pointer = declared.type_identifier().ends_with("_storage_ptr");
                        if let (true, Some(local), Some(state)) = (pointer, declared.id(), pointee)
                        {
                            self.aliases.insert(local, state);
                        }
                    }
                }
            }
            "Assignment" => {
                let target = node.child("leftHandSide");
                let variable = target.and_then(|t| {
                    self.state_of(written_variable(t))
                        .or_else(|| self.slot_place(t))
                });
                if let (Some(variable), Some((own, amount, update))) =
                    (variable, additive_update(self.program, node))
                    && self.additive(variable, own, amount, target, site, events)
                {
                    events.push(Event::Write(variable, update));
                    return;
                }
                if let Some(value) = node.child("rightHandSide") {
                    self.collect(value, site, events);
                }
                if let Some(target) = target {
                    // Index expressions are read; `x += 1` also reads `x`.
                    self.collect(target, site, events);
                    if let Some(id) = variable {
                        events.push(Event::Write(id, Update::Set));
                    }
                }
            }
            "UnaryOperation" if matches!(node.str("operator"), Some("++" | "--" | "delete")) => {
                if let Some(target) = node.child("subExpression") {
                    let update = match node.str("operator") {
                        Some("++") => Update::Add,
                        Some("--") => Update::Sub,
                        _ => Update::Set,
                    };
                    let start = events.len();
                    self.collect(target, site, events);
                    if let Some(id) = self
                        .state_of(written_variable(target))
                        .or_else(|| self.slot_place(target))
                    {
                        if update != Update::Set {
                            own_reads(&mut events[start..], id);
                        }
                        events.push(Event::Write(id, update));
                    }
                }
            }
            "MemberAccess" => {
                for child in node.subnodes() {
                    self.collect(child, site, events);
                }
                events.extend(self.slot_place(node).map(|variable| Event::Read {
                    variable,
                    own: false,
                }));
            }
            "FunctionCall" => {
                if let Some(condition) = self.checked_condition(node) {
                    let start = events.len();
                    self.collect(condition, site, events);
                    let reads = events[start..]
                        .iter()
                        .filter_map(|e| match e {
                            Event::Read { variable, .. } => Some(*variable),
                            _ => None,
                        })
                        .collect();
                    self.checks
                        .push((self.program.text(unconverted(condition)), reads));
                    events.push(Event::Check(self.checks.len() - 1));
                    for message in node.children("arguments").skip(1) {
                        self.collect(message, site, events);
                    }
                    return;
                }
                for child in node.subnodes() {
                    self.collect(child, site, events);
                }
                // A `STATICCALL` cannot change state, here or anywhere; a contract this call
                // created runs the program's own code, read where it is written.
                if static_call(self.program, node)
                    || self.created.contains(&node.id().unwrap_or(-1))
                {
                    return;
                }
                if let Some(value) = external_call(node) {
                    events.push(Event::Call {
                        site: site.unwrap_or(node),
                        value,
                    });
                    return;
                }
                let Some(target) = node.child("expression") else {
                    return;
                };
                // `list.push(x)`, `list.pop()` write the list.
                if target.is("MemberAccess")
                    && matches!(target.name_of_member(), "push" | "pop")
                    && let Some(id) =
                        self.state_of(target.child("expression").and_then(written_variable))
                {
                    events.push(Event::Write(id, Update::Set));
                    return;
                }
                if let Some(called) = target
                    .referenced()
                    .and_then(|id| self.program.declaration(id))
                    .filter(|d| d.is("FunctionDefinition"))
                {
                    self.inline(Function(called), site.or(Some(node)), events);
                }
            }
            _ => {
                for child in node.subnodes() {
                    self.collect(child, site, events);
                }
            }
        }
    }

    /// The condition of a `require(c, …)` or `assert(c)`.
    fn checked_condition(&self, call: Node<'a>) -> Option<Node<'a>> {
        let target = call.child("expression")?;
        (self.program.is_global(target, "require") || self.program.is_global(target, "assert"))
            .then(|| call.children("arguments").next())
            .flatten()
    }

    /// The events of an additive update of `variable` (see [`additive_update`]): the old value
    /// `own` read as its own, the `amount` as any expression, the target's indices. `false`,
    /// with nothing added, when the amount reads `variable` itself: then the update is not one.
    fn additive(
        &mut self,
        variable: i64,
        own: Node<'a>,
        amount: Node<'a>,
        target: Option<Node<'a>>,
        site: Option<Node<'a>>,
        events: &mut Vec<Event<'a>>,
    ) -> bool {
        let mut amount_events = Vec::new();
        self.collect(amount, site, &mut amount_events);
        if amount_events
            .iter()
            .any(|e| matches!(e, Event::Read { variable: v, .. } if *v == variable))
        {
            return false;
        }
        let start = events.len();
        // In evaluation order: `t = t + x` reads `t` before `x`; `t += x` and `t = x + t`
        // evaluate `x` first.
        let start_of = |n: Node<'_>| n.span().map(|s| s.start);
        let own_first =
            target.is_some_and(|t| own.id() != t.id()) && start_of(own) < start_of(amount);
        if own_first {
            self.collect(own, site, events);
            events.append(&mut amount_events);
        } else {
            events.append(&mut amount_events);
            if target.is_none_or(|t| own.id() != t.id()) {
                self.collect(own, site, events);
            }
        }
        if let Some(target) = target {
            self.collect(target, site, events);
        }
        own_reads(&mut events[start..], variable);
        true
    }

    /// The events of internal function `function` at a call reported at `site`.
    fn inline(
        &mut self,
        function: Function<'a>,
        site: Option<Node<'a>>,
        events: &mut Vec<Event<'a>>,
    ) {
        let Some(id) = function.node().id() else {
            return;
        };
        if self.inlining.contains(&id) || self.inlining.len() >= 3 {
            return;
        }
        self.inlining.push(id);
        let sequence = self.function(function, site);
        self.inlining.pop();
        events.extend(sequence);
    }

    /// A function's events with its modifiers around its body.
    fn function(&mut self, function: Function<'a>, site: Option<Node<'a>>) -> Vec<Event<'a>> {
        let mut body = Vec::new();
        if let Some(node) = function.body() {
            self.collect(node, site, &mut body);
        }
        // The innermost modifier is the last written: wrap from the inside out.
        let invocations: Vec<Node<'a>> = function.node().children("modifiers").collect();
        for invocation in invocations.into_iter().rev() {
            let Some(definition) = invocation
                .child("modifierName")
                .and_then(|n| n.referenced())
                .and_then(|id| self.program.declaration(id))
                .filter(|d| d.is("ModifierDefinition"))
            else {
                continue;
            };
            let mut wrapper = Vec::new();
            for argument in invocation.children("arguments") {
                self.collect(argument, site, &mut wrapper);
            }
            if let Some(node) = Function(definition).body() {
                self.collect(node, Some(site.unwrap_or(invocation)), &mut wrapper);
            }
            let mut wrapped = Vec::new();
            let mut placed = false;
            for event in wrapper {
                if matches!(event, Event::Placeholder) && !placed {
                    wrapped.append(&mut body);
                    placed = true;
                } else {
                    wrapped.push(event);
                }
            }
            body = wrapped;
        }
        body
    }
}

/// The state variable checked and set before position `at` and set again after: a reentrancy
/// lock around the call.
fn lock_around(events: &[Event<'_>], at: usize) -> Option<i64> {
    let before = &events[..at];
    let after = &events[at + 1..];
    before.iter().enumerate().find_map(|(i, e)| {
        let Event::Write(lock, _) = e else {
            return None;
        };
        (before[..i]
            .iter()
            .any(|r| matches!(r, Event::Read { variable, .. } if variable == lock))
            && after
                .iter()
                .any(|w| matches!(w, Event::Write(v, _) if v == lock)))
        .then_some(*lock)
    })
}

/// Whether, after the call at `at` and before its first write of `variable`, a function checks
/// a condition on `variable` that it also checked before the call.
fn checked_again(
    checks: &[(String, HashSet<i64>)],
    events: &[Event<'_>],
    at: usize,
    variable: i64,
) -> bool {
    let after = &events[at + 1..];
    let until = after
        .iter()
        .position(|e| matches!(e, Event::Write(v, _) if *v == variable))
        .unwrap_or(after.len());
    let checked_before: HashSet<&str> = events[..at]
        .iter()
        .filter_map(|e| match e {
            Event::Check(i) => Some(checks[*i].0.as_str()),
            _ => None,
        })
        .collect();
    after[..until].iter().any(|e| {
        matches!(e, Event::Check(i)
            if checks[*i].1.contains(&variable) && checked_before.contains(checks[*i].0.as_str()))
    })
}

/// Whether `events` read or write `variable`.
fn touches(events: &[Event<'_>], variable: i64) -> bool {
    events.iter().any(
        |e| matches!(e, Event::Read { variable: v, .. } | Event::Write(v, _) if *v == variable),
    )
}

/// Whether every use of `variable` in `events` adds to it an amount that does not depend on it
/// (`balances[msg.sender] += msg.value`): its old value decides nothing.
fn only_adds_to(events: &[Event<'_>], variable: i64) -> bool {
    events.iter().all(|e| match e {
        Event::Read { variable: v, own } if *v == variable => *own,
        Event::Write(v, update) if *v == variable => *update == Update::Add,
        _ => true,
    })
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut collector = Collector::new(program);
    // What each state-changing entry function reads and writes, and whether it takes a lock
    // (reads then writes a variable it writes again later): for re-entry through another
    // function while a locked one is mid-call.
    let mut entries = Vec::new();
    for (_, function) in program.functions() {
        if !function.is_entry()
            || function.is_view()
            || function.kind() == FunctionKind::Constructor
        {
            continue;
        }
        let events = collector.function(function, None);
        entries.push((function, events));
    }
    for (contract, function) in program.functions() {
        if !function.is_entry()
            || function.is_view()
            || function.kind() == FunctionKind::Constructor
        {
            continue;
        }
        let events = collector.function(function, None);
        for (at, event) in events.iter().enumerate() {
            let Event::Call { site, value } = *event else {
                continue;
            };
            let read_before: HashSet<i64> = events[..at]
                .iter()
                .filter_map(|e| match e {
                    Event::Read { variable, .. } => Some(*variable),
                    _ => None,
                })
                .collect();
            let mut stale: Vec<i64> = Vec::new();
            for event in &events[at + 1..] {
                if let Event::Write(v, _) = event
                    && read_before.contains(v)
                    && !stale.contains(v)
                {
                    stale.push(*v);
                }
            }
            // A variable the function checks again after the call, before writing it, with the
            // condition it checked before (`require(isOperationReady(id))` on both sides, as
            // OpenZeppelin's TimelockController does): a re-entry that changed it fails that
            // check, and the whole call reverts with it.
            stale.retain(|&variable| !checked_again(&collector.checks, &events, at, variable));
            let Some(&first) = stale.first() else {
                continue;
            };
            let rule = if value { &ETH } else { &NO_ETH };
            if let Some(lock) = lock_around(&events, at) {
                // The lock keeps the callee out of this function; another one that uses a
                // stale variable without taking the lock is still open to it — unless this
                // function settles the variable in place after the call (`v -= x`) and the
                // other only adds to it: the two sums give the same total in either order.
                let open = stale.iter().find_map(|&variable| {
                    let in_place = !events[at + 1..]
                        .iter()
                        .any(|e| matches!(e, Event::Write(v, Update::Set) if *v == variable));
                    entries
                        .iter()
                        .find(|(other, other_events)| {
                            other.node().id() != function.node().id()
                                && touches(other_events, variable)
                                && !touches(other_events, lock)
                                && !(in_place && only_adds_to(other_events, variable))
                        })
                        .map(|(other, _)| (variable, other))
                });
                let Some((variable, other)) = open else {
                    continue;
                };
                let name = collector.name(variable);
                findings.extend(program.finding(
                    rule,
                    site,
                    &contract,
                    Some(&function),
                    format!(
                        "{} makes an external call before it writes `{name}`; its lock does not cover {}, which uses `{name}`: the callee can call it while `{name}` is stale (cross-function reentrancy)",
                        function.display_name(),
                        other.display_name()
                    ),
                ));
                continue;
            }
            let name = collector.name(first);
            findings.extend(program.finding(
                rule,
                site,
                &contract,
                Some(&function),
                format!(
                    "{} {} before it writes `{name}`, which it read before the call: the \
                     callee can re-enter while `{name}` is stale",
                    function.display_name(),
                    if value {
                        "sends ether with an external call"
                    } else {
                        "makes an external call"
                    },
                ),
            ));
        }
    }
    findings
}
