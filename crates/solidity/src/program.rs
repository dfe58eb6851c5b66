//! The contracts of a compilation as the detectors see them: every unit's AST and line index,
//! every declaration by id, and each contract with its functions and modifiers.

use crate::{
    Finding, Rule,
    ast::{Function, Node},
    source::LineIndex,
};
use ricaas_solc::SourceSyntax;
use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap},
    hash::Hash,
    time::Instant,
};

/// Answers worked out once per key and reused. Detectors that follow internal calls would
/// otherwise read a function once per path to it: exponential in a recursive helper whose
/// every branch calls it again.
pub struct Memo<K, V>(RefCell<HashMap<K, V>>);

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    pub fn new() -> Self {
        Memo(RefCell::new(HashMap::new()))
    }

    /// The answer for `key`, from `work` the first time. `work` may ask this memo for other
    /// keys (the borrow is not held while it runs); it must not ask for `key` itself, which
    /// callers rule out by recursing with a growing depth in the key.
    pub fn get_or(&self, key: K, work: impl FnOnce() -> V) -> V {
        if let Some(known) = self.0.borrow().get(&key) {
            return known.clone();
        }
        let answer = work();
        self.0.borrow_mut().insert(key, answer.clone());
        answer
    }
}

impl<K: Eq + Hash, V: Clone> Default for Memo<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

/// One source unit.
pub struct Unit<'a> {
    pub name: &'a str,
    pub lines: LineIndex,
    pub root: Node<'a>,
}

/// A `ContractDefinition` (contract, library or interface) and where it is.
#[derive(Clone, Copy)]
pub struct Contract<'a> {
    pub node: Node<'a>,
    pub unit: usize,
}

impl<'a> Contract<'a> {
    pub fn name(&self) -> &'a str {
        self.node.name()
    }

    /// `contract`, `library` or `interface`.
    pub fn kind(&self) -> &'a str {
        self.node.str("contractKind").unwrap_or("contract")
    }

    /// Its own functions and modifiers (not inherited ones).
    pub fn functions(&self) -> impl Iterator<Item = Function<'a>> + use<'a> {
        self.node
            .children("nodes")
            .filter(|n| n.is("FunctionDefinition") || n.is("ModifierDefinition"))
            .map(Function)
    }

    /// Its own state variables.
    pub fn state_variables(&self) -> impl Iterator<Item = Node<'a>> + use<'a> {
        self.node
            .children("nodes")
            .filter(|n| n.is("VariableDeclaration"))
    }

    /// The ids of the contracts it inherits from, itself first (solc's linearization).
    pub fn linearized(&self) -> Vec<i64> {
        self.node.0["linearizedBaseContracts"]
            .as_array()
            .map(|ids| ids.iter().filter_map(|v| v.as_i64()).collect())
            .unwrap_or_default()
    }
}

/// The ids a function or modifier names as overridden (`baseFunctions`, `baseModifiers`: solc
/// 0.6 and later; before, overriding was not written down).
pub fn overridden(node: Node<'_>) -> Vec<i64> {
    ["baseFunctions", "baseModifiers"]
        .iter()
        .filter_map(|field| node.0.get(*field)?.as_array())
        .flatten()
        .filter_map(serde_json::Value::as_i64)
        .collect()
}

pub struct Program<'a> {
    /// Arithmetic reverts on overflow (solc 0.8 and later) outside `unchecked` blocks.
    pub checked_arithmetic: bool,
    /// The ABI decoder reverts on calldata shorter than the parameters (solc 0.5 and later).
    pub checks_calldata_length: bool,
    /// Calls of `view` and `pure` functions of other contracts are `STATICCALL`s, which revert
    /// on any state change (solc 0.5 and later; 0.4 made them ordinary calls).
    pub static_view_calls: bool,
    pub units: Vec<Unit<'a>>,
    /// solc's file index → position in `units`.
    by_file: HashMap<usize, usize>,
    declarations: HashMap<i64, Node<'a>>,
    pub contracts: Vec<Contract<'a>>,
    /// When the detectors must stop: [`Program::functions`] ends there.
    deadline: Option<Instant>,
    /// Whether [`Program::functions`] ended early at the deadline: some function was not read.
    cut: std::cell::Cell<bool>,
    /// Whether a function (by id, at a depth of calls) checks its caller: asked by several
    /// detectors for every function and call site.
    pub(crate) protected: Memo<(i64, usize), bool>,
    /// Code no state of the contract lets run ([`crate::reachability`]): no finding there.
    unreachable: Vec<crate::reachability::Range>,
    /// Function or modifier id → the ids of those that override it directly (solc 0.6 and
    /// later name what a function overrides in `baseFunctions`; before, nothing is known).
    overridden_by: HashMap<i64, Vec<i64>>,
}

impl<'a> Program<'a> {
    /// The units of a compilation by solc `version` (e.g. `0.4.26`).
    pub fn new(syntax: &'a BTreeMap<String, SourceSyntax>, version: &str) -> Self {
        let mut numbers = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
        let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
        let mut program = Program {
            checked_arithmetic: (major, minor) >= (0, 8),
            checks_calldata_length: (major, minor) >= (0, 5),
            static_view_calls: (major, minor) >= (0, 5),
            units: Vec::new(),
            by_file: HashMap::new(),
            declarations: HashMap::new(),
            contracts: Vec::new(),
            deadline: None,
            cut: std::cell::Cell::new(false),
            protected: Memo::new(),
            unreachable: Vec::new(),
            overridden_by: HashMap::new(),
        };
        for (name, unit) in syntax {
            let Some(root) = Node::from(&unit.ast) else {
                continue;
            };
            let index = program.units.len();
            if let Some(span) = root.span() {
                program.by_file.insert(span.file, index);
            }
            root.walk(&mut |node, _| {
                if let Some(id) = node.id() {
                    program.declarations.insert(id, node);
                }
                if node.is("ContractDefinition") {
                    program.contracts.push(Contract { node, unit: index });
                }
                if let Some(id) = node.id() {
                    for base in overridden(node) {
                        program.overridden_by.entry(base).or_default().push(id);
                    }
                }
                true
            });
            program.units.push(Unit {
                name,
                lines: LineIndex::new(&unit.text),
                root,
            });
        }
        program.unreachable = crate::reachability::unreachable(&program);
        program
    }

    /// Whether some state of the contract lets `node` run ([`crate::reachability`]).
    pub fn reachable(&self, node: Node<'_>) -> bool {
        node.span().is_none_or(|span| {
            !self.unreachable.iter().any(|(file, start, end)| {
                *file == span.file && *start <= span.start && span.start < *end
            })
        })
    }

    /// The source text of `node`, without whitespace (to compare expressions as written).
    pub fn text(&self, node: Node<'_>) -> String {
        let Some(span) = node.span() else {
            return String::new();
        };
        let Some(unit) = self.by_file.get(&span.file).map(|i| &self.units[*i]) else {
            return String::new();
        };
        unit.lines
            .text()
            .get(span.start..span.end())
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    }

    /// The node with id `id` (a declaration an identifier refers to).
    pub fn declaration(&self, id: i64) -> Option<Node<'a>> {
        self.declarations.get(&id).copied()
    }

    /// The modifiers `function` is declared with, as their definitions (base constructor calls,
    /// written the same way, name contracts and are left out).
    pub fn modifiers(&self, function: Function<'_>) -> Vec<Function<'a>> {
        function
            .modifier_ids()
            .into_iter()
            .filter_map(|id| self.declaration(id))
            .filter(|d| d.is("ModifierDefinition"))
            .map(Function)
            .collect()
    }

    /// As [`Program::modifiers`], each with its invocation (`ownerExists(msg.sender)`), whose
    /// arguments go to the modifier's parameters.
    pub fn modifier_invocations<'f>(
        &self,
        function: Function<'f>,
    ) -> Vec<(crate::ast::Node<'f>, Function<'a>)> {
        function
            .node()
            .children("modifiers")
            .filter_map(|invocation| {
                let id = invocation.child("modifierName")?.referenced()?;
                let definition = self.declaration(id)?;
                definition
                    .is("ModifierDefinition")
                    .then_some((invocation, Function(definition)))
            })
            .collect()
    }

    /// Whether `node` is the global identifier `name` (`now`, `blockhash`, `this`): named so
    /// and declared nowhere in the sources (solc gives globals ids of their own).
    pub fn is_global(&self, node: Node<'_>, name: &str) -> bool {
        node.is("Identifier")
            && node.name() == name
            && node
                .referenced()
                .is_none_or(|id| self.declaration(id).is_none())
    }

    /// Whether `statement` reverts: `revert(...)`, `revert Error(...)` or 0.4's `throw`.
    pub fn reverts(&self, statement: Node<'_>) -> bool {
        match statement.kind() {
            "Throw" | "RevertStatement" => true,
            "ExpressionStatement" => statement.child("expression").is_some_and(|e| {
                e.is("FunctionCall")
                    && e.child("expression")
                        .is_some_and(|c| self.is_global(c, "revert"))
            }),
            _ => false,
        }
    }

    /// The condition `statement` enforces, and whether it must hold: `require(c)` and
    /// `assert(c)` give `(c, true)`; an `if (c)` whose branch reverts at once (`revert()`,
    /// `throw`, or a block starting with one) gives `(c, false)`. `None` for anything else.
    pub fn enforced_condition<'n>(&self, statement: Node<'n>) -> Option<(Node<'n>, bool)> {
        match statement.kind() {
            "FunctionCall" => statement
                .child("expression")
                .filter(|c| self.is_global(*c, "require") || self.is_global(*c, "assert"))
                .and_then(|_| statement.children("arguments").next())
                .map(|condition| (condition, true)),
            "IfStatement" => statement
                .child("trueBody")
                .filter(|t| {
                    self.reverts(*t)
                        || t.children("statements")
                            .next()
                            .is_some_and(|s| self.reverts(s))
                })
                .and_then(|_| statement.child("condition"))
                .map(|condition| (condition, false)),
            _ => None,
        }
    }

    /// The function of this program a call calls: by name (an internal call), or `this.f()`,
    /// `super.f()` and library calls; none for builtins, conversions and other contracts'.
    pub fn called_function(&self, call: Node<'_>) -> Option<Function<'a>> {
        let callee = call.child("expression")?;
        if !matches!(callee.kind(), "Identifier" | "MemberAccess") {
            return None;
        }
        let declaration = self.declaration(callee.referenced()?)?;
        declaration
            .is("FunctionDefinition")
            .then_some(Function(declaration))
    }

    /// Whether `call` calls a declared function that may change state (neither `view` nor
    /// `pure`): it acts rather than asks, so what it is given in a condition is not checked
    /// there (`if (!_safeTransferFrom(token, from, …)) revert …;`).
    pub fn acts(&self, call: Node<'_>) -> bool {
        call.str("kind") == Some("functionCall")
            && crate::ast::callee(call)
                .and_then(|c| c.referenced())
                .and_then(|id| self.declaration(id))
                .is_some_and(|d| d.is("FunctionDefinition") && !Function(d).is_view())
    }

    /// Every function or modifier that overrides `id`, directly or through another override.
    pub fn overrides(&self, id: i64) -> Vec<Function<'a>> {
        let mut found = Vec::new();
        let mut seen = std::collections::HashSet::from([id]);
        let mut next = vec![id];
        while let Some(id) = next.pop() {
            for &over in self.overridden_by.get(&id).into_iter().flatten() {
                if seen.insert(over)
                    && let Some(declaration) = self.declaration(over)
                {
                    found.push(Function(declaration));
                    next.push(over);
                }
            }
        }
        found
    }

    /// The code an internal call may run: the function it names and, for a call by name (which
    /// solc dispatches to the most-derived override of the deployed contract), every override of
    /// it — those with a body. `super.f()`, library and `this.f()` calls run what they name.
    pub fn implementations(&self, call: Node<'_>, callee: Function<'a>) -> Vec<Function<'a>> {
        let mut found: Vec<Function<'a>> = callee.body().map(|_| callee).into_iter().collect();
        if call.child("expression").is_some_and(|c| c.is("Identifier"))
            && let Some(id) = callee.node().id()
        {
            found.extend(
                self.overrides(id)
                    .into_iter()
                    .filter(|f| f.body().is_some()),
            );
        }
        found
    }

    /// Whether `node` is the transaction's sender as this call sees it: `msg.sender`, or a call
    /// (without arguments) of a function of the program whose every `return` gives it —
    /// `_msgSender()` of OpenZeppelin's `Context`, two levels deep.
    pub fn is_sender(&self, node: Node<'_>) -> bool {
        self.returns_only(node, 0, &|n| n.is_global_member("msg", "sender"))
    }

    /// Whether `node` is something `leaf` accepts, or a call without arguments of a function of
    /// the program whose every returned value is (`depth` calls deep, at most two).
    pub fn returns_only(
        &self,
        node: Node<'_>,
        depth: usize,
        leaf: &dyn Fn(Node<'_>) -> bool,
    ) -> bool {
        leaf(node)
            || (depth < 2
                && node.is("FunctionCall")
                && node.str("kind") == Some("functionCall")
                && node.children("arguments").next().is_none()
                && self
                    .called_function(node)
                    .and_then(|f| f.returned_values())
                    .is_some_and(|values| {
                        values
                            .iter()
                            .all(|v| self.returns_only(*v, depth + 1, leaf))
                    }))
    }

    /// Whether declaration `id` is a state variable.
    pub fn is_state_variable(&self, id: i64) -> bool {
        self.declaration(id)
            .is_some_and(|d| d.flag("stateVariable"))
    }

    pub fn contract(&self, id: i64) -> Option<Contract<'a>> {
        self.contracts
            .iter()
            .find(|c| c.node.id() == Some(id))
            .copied()
    }

    /// The contracts that inherit from the contract `name` of unit `file` and whose `function`
    /// runs that contract's (no contract between overrides it without calling `super.function`
    /// or `Base.function`), as (unit, name), in the order they were declared.
    pub fn heirs_running(&self, file: &str, name: &str, function: &str) -> Vec<(&'a str, &'a str)> {
        let Some(id) = self
            .contracts
            .iter()
            .find(|c| c.name() == name && self.units[c.unit].name == file)
            .and_then(|c| c.node.id())
        else {
            return Vec::new();
        };
        let passes_on = |f: Function<'_>| {
            f.body().is_some_and(|body| {
                body.any(&mut |n| {
                    n.is("MemberAccess")
                        && n.name_of_member() == function
                        && n.child("expression").is_some_and(|e| {
                            e.is("Identifier")
                                && (e.name() == "super"
                                    || e.referenced().and_then(|r| self.contract(r)).is_some())
                        })
                })
            })
        };
        self.contracts
            .iter()
            .filter(|c| c.node.id() != Some(id))
            .filter(|c| {
                let line = c.linearized();
                let Some(base) = line.iter().position(|b| *b == id) else {
                    return false;
                };
                line[..base].iter().all(|between| {
                    self.contract(*between).is_some_and(|between| {
                        between
                            .functions()
                            .filter(|f| f.node().is("FunctionDefinition") && f.name() == function)
                            .all(passes_on)
                    })
                })
            })
            .map(|c| (self.units[c.unit].name, c.name()))
            .collect()
    }

    /// Unit name, line, column and last line of `node`.
    pub fn place(&self, node: Node<'_>) -> Option<(&'a str, usize, usize, usize)> {
        let span = node.span()?;
        let unit = &self.units[*self.by_file.get(&span.file)?];
        let (line, column) = unit.lines.position(span.start);
        let (end_line, _) = unit
            .lines
            .position(span.end().saturating_sub(1).max(span.start));
        Some((unit.name, line, column, end_line))
    }

    /// A finding of `rule` at `node`, in `function` of `contract`.
    pub fn finding(
        &self,
        rule: &'static Rule,
        node: Node<'_>,
        contract: &Contract<'_>,
        function: Option<&Function<'_>>,
        message: String,
    ) -> Option<Finding> {
        if !self.reachable(node) {
            return None;
        }
        let (file, line, column, end_line) = self.place(node)?;
        Some(Finding {
            rule: rule.id,
            category: rule.category,
            severity: rule.severity,
            swc: rule.swc,
            file: file.to_owned(),
            line,
            column,
            end_line,
            contract: contract.name().to_owned(),
            function: function.map(|f| f.name().to_owned()).unwrap_or_default(),
            message,
            confirmed: false,
            related: Vec::new(),
        })
    }

    /// `node`'s place as a related location of a finding, saying what happens there.
    pub fn related(&self, node: Node<'_>, message: String) -> Option<crate::Related> {
        let (_, line, column, end_line) = self.place(node)?;
        Some(crate::Related {
            line,
            column,
            end_line,
            message,
        })
    }

    /// Every function and modifier of every contract, with its contract, until the deadline
    /// passes.
    pub fn functions(&self) -> impl Iterator<Item = (Contract<'a>, Function<'a>)> + '_ {
        self.contracts
            .iter()
            .flat_map(|c| c.functions().map(move |f| (*c, f)))
            .take_while(|_| {
                let expired = self.expired();
                if expired {
                    self.cut.set(true);
                }
                !expired
            })
    }

    /// Detectors stop reading functions once `deadline` passes.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Whether the deadline stopped [`Program::functions`] before the last function.
    pub fn was_cut(&self) -> bool {
        self.cut.get()
    }

    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() > d)
    }
}
