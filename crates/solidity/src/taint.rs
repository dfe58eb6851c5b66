//! Where values come from: a flow-insensitive fixpoint over the whole program that labels every
//! variable (local, parameter, state), and every function's return value, with the source reads
//! whose values can reach it — through assignments, declarations, `push`, internal calls
//! (arguments into parameters, return values out) and state variables written in one function
//! and read in another. Detectors ask which sources reach the places they care about.

use crate::{
    ast::{Function, Node},
    program::Program,
};
use std::collections::{BTreeSet, HashMap};

/// The source reads (node ids) a value may carry.
pub type Labels = BTreeSet<i64>;

pub struct Taint<'p, 'a> {
    program: &'p Program<'a>,
    source: &'p dyn Fn(Node<'a>) -> bool,
    /// Declaration id (variable or function return) → labels.
    held: HashMap<i64, Labels>,
}

/// The variable an assignment target writes: `x`, `x[i]`, `x.f`, `x[i].f` all write `x`.
pub fn written_variable(target: Node<'_>) -> Option<i64> {
    let mut node = target;
    loop {
        match node.kind() {
            "Identifier" => return node.referenced(),
            "IndexAccess" => node = node.child("baseExpression")?,
            "MemberAccess" => node = node.child("expression")?,
            "TupleExpression" => node = node.children("components").next()?,
            _ => return None,
        }
    }
}

impl<'p, 'a> Taint<'p, 'a> {
    /// Labels every value of `program` with the reads `source` picks.
    pub fn new(program: &'p Program<'a>, source: &'p dyn Fn(Node<'a>) -> bool) -> Self {
        let mut taint = Self {
            program,
            source,
            held: HashMap::new(),
        };
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
        let mut labels = Labels::new();
        expr.walk(&mut |node, _| {
            if (self.source)(node) {
                labels.extend(node.id());
            }
            match node.kind() {
                "Identifier" => {
                    if let Some(held) = node.referenced().and_then(|id| self.held.get(&id)) {
                        labels.extend(held);
                    }
                }
                "FunctionCall" => {
                    if let Some(held) = self
                        .called_function(node)
                        .and_then(|f| f.node().id())
                        .and_then(|id| self.held.get(&id))
                    {
                        labels.extend(held);
                    }
                }
                _ => {}
            }
            true
        });
        labels
    }

    /// The labels variable (or function) `id` holds.
    pub fn held(&self, id: i64) -> Labels {
        self.held.get(&id).cloned().unwrap_or_default()
    }

    /// The function of this program a call calls (an internal call by name), if any.
    pub fn called_function(&self, call: Node<'a>) -> Option<Function<'a>> {
        let callee = call.child("expression")?;
        let id = match callee.kind() {
            "Identifier" => callee.referenced()?,
            // `this.f()` and `super.f()` and library calls.
            "MemberAccess" => callee.referenced()?,
            _ => return None,
        };
        let declaration = self.program.declaration(id)?;
        declaration
            .is("FunctionDefinition")
            .then_some(Function(declaration))
    }

    fn add(&mut self, id: i64, labels: Labels) -> bool {
        if labels.is_empty() {
            return false;
        }
        let held = self.held.entry(id).or_default();
        let before = held.len();
        held.extend(labels);
        held.len() > before
    }

    /// One pass over every function and state variable; whether anything changed.
    fn round(&mut self) -> bool {
        let mut changed = false;
        let program = self.program;
        for contract in &program.contracts {
            for variable in contract.state_variables() {
                if let (Some(id), Some(value)) = (variable.id(), variable.child("value")) {
                    let labels = self.labels(value);
                    changed |= self.add(id, labels);
                }
            }
        }
        for (_, function) in program.functions() {
            let Some(body) = function.body() else {
                continue;
            };
            let function_id = function.node().id();
            let mut updates: Vec<(i64, Labels)> = Vec::new();
            body.walk(&mut |node, _| {
                match node.kind() {
                    "Assignment" => {
                        if let (Some(target), Some(value)) = (
                            node.child("leftHandSide").and_then(written_variable),
                            node.child("rightHandSide"),
                        ) {
                            updates.push((target, self.labels(value)));
                        }
                    }
                    "VariableDeclarationStatement" => {
                        if let Some(value) = node.child("initialValue") {
                            let labels = self.labels(value);
                            for declared in node.children("declarations") {
                                updates.extend(declared.id().map(|id| (id, labels.clone())));
                            }
                        }
                    }
                    "Return" => {
                        if let (Some(id), Some(value)) = (function_id, node.child("expression")) {
                            updates.push((id, self.labels(value)));
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
                                updates.push((list, self.labels(argument)));
                            }
                        }
                        // Arguments flow into the parameters of an internal call.
                        if let Some(called) = self.called_function(node) {
                            for (parameter, argument) in
                                called.parameters().zip(node.children("arguments"))
                            {
                                if let Some(id) = parameter.id() {
                                    updates.push((id, self.labels(argument)));
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
                        updates.push((id, self.held(r)));
                    }
                }
            }
            for (id, labels) in updates {
                changed |= self.add(id, labels);
            }
        }
        changed
    }
}
