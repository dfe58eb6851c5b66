//! Code that no state of the contract lets run. A function that returns or reverts unless a
//! state variable holds some value, where every value the variable can ever hold — its initial
//! value and each value any code writes to it — fails that test, never gets past the test:
//! `if (initialized == 0) return;` with `initialized` never written is a function that does
//! nothing. Findings after such a guard describe code no transaction can reach, and are left
//! out ([`crate::program::Program::finding`]).
//!
//! Only what can be known for certain counts: a variable of an elementary type written nowhere
//! but with literals (`x = 1`, `delete x`), a guard comparing it with a literal. A contract with
//! inline assembly or `delegatecall` (code that may write any slot) has no such guards.

use crate::{
    ast::{Function, Node, unconverted},
    program::Program,
};
use std::collections::{BTreeSet, HashMap};

/// A source range no transaction reaches: solc's file index, start and end offsets.
pub type Range = (usize, usize, usize);

/// The ranges of `program` that no reachable state lets run.
pub fn unreachable(program: &Program<'_>) -> Vec<Range> {
    let mut ranges = Vec::new();
    let values = possible_values(program);
    if values.is_empty() {
        return ranges;
    }
    // Modifiers that never get to their `_`.
    let mut closed_modifiers = BTreeSet::new();
    for contract in &program.contracts {
        for function in contract.functions() {
            if !function.node().is("ModifierDefinition") {
                continue;
            }
            if let Some(body) = function.body()
                && blocked_after(program, &values, body)
                    .is_some_and(|at| before_placeholder(body, at))
                && let Some(id) = function.node().id()
            {
                closed_modifiers.insert(id);
            }
        }
    }
    for contract in &program.contracts {
        for function in contract.functions() {
            let Some(body) = function.body() else {
                continue;
            };
            let Some(span) = body.span() else {
                continue;
            };
            if function.node().is("FunctionDefinition") && uses_any(function, &closed_modifiers) {
                ranges.push((span.file, span.start, span.end()));
                continue;
            }
            if let Some(from) = blocked_after(program, &values, body) {
                ranges.push((span.file, from, span.end()));
            }
        }
    }
    ranges
}

/// Per state variable (by id) every value it can hold, for those whose every write is known
/// (none of a contract whose code may write any slot of its storage).
fn possible_values(program: &Program<'_>) -> HashMap<i64, BTreeSet<i128>> {
    let mut values: HashMap<i64, BTreeSet<i128>> = HashMap::new();
    for contract in &program.contracts {
        for variable in contract.state_variables() {
            let Some(id) = variable.id() else { continue };
            let elementary = variable
                .child("typeName")
                .is_some_and(|t| t.is("ElementaryTypeName"));
            if !elementary
                || variable.flag("constant")
                || variable.str("mutability") == Some("immutable")
            {
                continue;
            }
            let initial = match variable.child("value") {
                None => Some(0),
                Some(value) => literal(unconverted(value)),
            };
            if let Some(initial) = initial {
                values.insert(id, BTreeSet::from([initial]));
            }
        }
    }
    let mut unknown: BTreeSet<i64> = BTreeSet::new();
    for contract in &program.contracts {
        let mut anything = false;
        for function in contract.functions() {
            let Some(body) = function.body() else {
                continue;
            };
            body.walk(&mut |node, _| {
                match node.kind() {
                    "InlineAssembly" => anything = true,
                    "MemberAccess"
                        if matches!(node.name_of_member(), "delegatecall" | "callcode") =>
                    {
                        anything = true
                    }
                    "Assignment" => {
                        let Some(target) = node.child("leftHandSide") else {
                            return true;
                        };
                        let simple = target.is("Identifier") && node.str("operator") == Some("=");
                        let value = node
                            .child("rightHandSide")
                            .and_then(|v| literal(unconverted(v)));
                        match (simple, target.referenced(), value) {
                            (true, Some(id), Some(value)) => {
                                values.entry(id).and_modify(|set| {
                                    set.insert(value);
                                });
                            }
                            _ => target.walk(&mut |n, _| {
                                unknown.extend(n.referenced());
                                true
                            }),
                        }
                    }
                    "UnaryOperation" => {
                        let Some(target) = node.child("subExpression") else {
                            return true;
                        };
                        match node.str("operator") {
                            Some("delete") if target.is("Identifier") => {
                                if let Some(id) = target.referenced() {
                                    values.entry(id).and_modify(|set| {
                                        set.insert(0);
                                    });
                                }
                            }
                            Some("++" | "--" | "delete") => target.walk(&mut |n, _| {
                                unknown.extend(n.referenced());
                                true
                            }),
                            _ => {}
                        }
                    }
                    _ => {}
                }
                true
            });
        }
        // Code that may write any slot of this contract's storage: its own variables and those
        // it inherits.
        if anything {
            for base in contract.linearized() {
                if let Some(base) = program.contract(base) {
                    unknown.extend(base.state_variables().filter_map(|v| v.id()));
                }
            }
        }
    }
    values.retain(|id, _| !unknown.contains(id));
    values
}

/// An integer or boolean literal's value (no units, within 128 bits).
fn literal(node: Node<'_>) -> Option<i128> {
    if !node.is("Literal") || node.str("subdenomination").is_some() {
        return None;
    }
    match (node.str("kind"), node.str("value")) {
        (Some("bool"), Some(value)) => Some(i128::from(value == "true")),
        (Some("number"), Some(value)) => {
            let value = value.replace('_', "");
            match value.strip_prefix("0x") {
                Some(hex) => i128::from_str_radix(hex, 16).ok(),
                None => value.parse().ok(),
            }
        }
        _ => None,
    }
}

/// Where the code of `body` stops being reachable: the end of its first top-level guard that
/// no possible value passes.
fn blocked_after(
    program: &Program<'_>,
    values: &HashMap<i64, BTreeSet<i128>>,
    body: Node<'_>,
) -> Option<usize> {
    for statement in body.children("statements") {
        let passes = match statement.kind() {
            // `if (c) return;` runs on only when `c` is false.
            "IfStatement" if statement.child("falseBody").is_none() => statement
                .child("trueBody")
                .filter(|then| exits(program, *then))
                .and_then(|_| statement.child("condition"))
                .and_then(|c| outcomes(values, c))
                .map(|outcomes| outcomes.contains(&false)),
            // `require(c)` runs on only when `c` holds.
            "ExpressionStatement" => statement
                .child("expression")
                .filter(|call| {
                    call.is("FunctionCall")
                        && call.child("expression").is_some_and(|c| {
                            program.is_global(c, "require") || program.is_global(c, "assert")
                        })
                })
                .and_then(|call| call.children("arguments").next())
                .and_then(|c| outcomes(values, c))
                .map(|outcomes| outcomes.contains(&true)),
            _ => None,
        };
        if passes == Some(false) {
            return statement.span().map(|s| s.end());
        }
    }
    None
}

/// Whether `statement` leaves the function: `return`, `revert`, `throw`, alone or in a block.
fn exits(program: &Program<'_>, statement: Node<'_>) -> bool {
    match statement.kind() {
        "Block" => {
            let statements: Vec<Node<'_>> = statement.children("statements").collect();
            statements.last().is_some_and(|last| exits(program, *last))
        }
        "Return" => true,
        _ => program.reverts(statement),
    }
}

/// The values condition `c` takes over every value its one state variable can hold: `v`, `!v`,
/// or `v` compared with a literal. None for anything else.
fn outcomes(values: &HashMap<i64, BTreeSet<i128>>, c: Node<'_>) -> Option<BTreeSet<bool>> {
    let c = unconverted(c);
    let held = |n: Node<'_>| {
        let n = unconverted(n);
        n.is("Identifier")
            .then(|| n.referenced())
            .flatten()
            .and_then(|id| values.get(&id))
    };
    match c.kind() {
        "Identifier" => held(c).map(|set| set.iter().map(|v| *v != 0).collect()),
        "UnaryOperation" if c.str("operator") == Some("!") => {
            let set = held(c.child("subExpression")?)?;
            Some(set.iter().map(|v| *v == 0).collect())
        }
        "BinaryOperation" => {
            let (l, r) = (c.child("leftExpression")?, c.child("rightExpression")?);
            let operator = c.str("operator")?;
            let (set, constant, flipped) = match (held(l), held(r)) {
                (Some(set), None) => (set, literal(unconverted(r))?, false),
                (None, Some(set)) => (set, literal(unconverted(l))?, true),
                _ => return None,
            };
            set.iter()
                .map(|v| {
                    let (a, b) = if flipped {
                        (constant, *v)
                    } else {
                        (*v, constant)
                    };
                    Some(match operator {
                        "==" => a == b,
                        "!=" => a != b,
                        "<" => a < b,
                        "<=" => a <= b,
                        ">" => a > b,
                        ">=" => a >= b,
                        _ => return None,
                    })
                })
                .collect()
        }
        _ => None,
    }
}

/// Whether the offset `at` comes before the modifier's `_`.
fn before_placeholder(body: Node<'_>, at: usize) -> bool {
    body.any(&mut |n| n.is("PlaceholderStatement") && n.span().is_some_and(|s| s.start >= at))
}

fn uses_any(function: Function<'_>, modifiers: &BTreeSet<i64>) -> bool {
    function.node().children("modifiers").any(|m| {
        m.child("modifierName")
            .and_then(|n| n.referenced())
            .is_some_and(|id| modifiers.contains(&id))
    })
}
