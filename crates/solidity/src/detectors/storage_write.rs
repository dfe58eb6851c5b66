//! Writes to arbitrary storage (SWC-124) through a dynamic array's length, before solc 0.6 made
//! `length` read-only. An array's elements live at `keccak256(slot) + index`, so an array whose
//! length reaches 2^256 − 1 covers every storage slot: a write at an index the caller chooses
//! then lands on any state variable (the owner, a balance). Two ways a caller gets there: a
//! function lets them set the length (`map.length = key + 1`), or it shortens the array with no
//! working check that it is not empty (`arr.length--` on an empty array wraps to 2^256 − 1; a
//! check `0 <= arr.length` is always true). Reported only when some function anyone can call
//! also writes the array at an index the caller chooses: without that write a long array is
//! harmless. Functions only an owner may call are left out on both sides.

use crate::{
    Category, Finding, Rule, Severity,
    ast::{Function, Node},
    program::{Contract, Program},
    taint::Taint,
};
use std::collections::{HashMap, HashSet};

pub const RULE: Rule = Rule {
    id: "arbitrary-storage-write",
    title: "Write to any storage slot through an array's length",
    swc: &["SWC-124"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "Before Solidity 0.6 a dynamic array's `length` can be set or decremented. \
        When a caller can make it 2^256 − 1 — by setting it, or by shortening an empty array, \
        which wraps — the array spans all of storage, and a write at an index they choose \
        overwrites any state variable: the owner, a balance, a lock.",
    fix: "Never let a caller set a length; shorten with `pop()` (0.5+), or check \
        `require(arr.length > 0)` before `arr.length--` (a length is never negative, so \
        `>= 0` checks nothing); bound written indexes by the array's real size; compile with \
        Solidity 0.6 or later, where `length` is read-only.",
};

/// `x.length` with `x` a state array: its id.
fn length_of(node: Node<'_>, program: &Program<'_>) -> Option<i64> {
    if !node.is("MemberAccess") || node.name_of_member() != "length" {
        return None;
    }
    let base = node.child("expression")?;
    let id = base.is("Identifier").then(|| base.referenced())??;
    program.is_state_variable(id).then_some(id)
}

/// How an unguarded length change gave the caller a long array: where, and what to say.
struct Lengthening<'a> {
    /// The node to report (the always-true check, or the change itself).
    at: Node<'a>,
    contract: Contract<'a>,
    function: Function<'a>,
    what: String,
    /// Set to the caller's value (else shortened without a working check).
    set_by_caller: bool,
}

pub fn detect<'a>(program: &Program<'a>) -> Vec<Finding> {
    let open = |function: &Function<'_>| {
        function.is_entry() && !super::access_control::owner_only(program, *function)
    };
    let parameters: HashSet<i64> = program
        .functions()
        .filter(|(_, f)| open(f))
        .flat_map(|(_, f)| f.parameters().filter_map(|p| p.id()).collect::<Vec<_>>())
        .collect();
    let source = |node: Node<'a>| {
        node.is("Identifier") && node.referenced().is_some_and(|id| parameters.contains(&id))
    };
    let taint = Taint::new(program, &source);
    let chosen = |node: Node<'a>| !taint.labels(node).is_empty();

    // Arrays a caller can make span storage, and how.
    let mut lengthened: HashMap<i64, Vec<Lengthening<'a>>> = HashMap::new();
    for (contract, function) in program.functions() {
        if !open(&function) {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            let change = match node.kind() {
                // `x.length = e` with `e` the caller's, or `x.length -= e`.
                "Assignment" => node.child("leftHandSide").and_then(|target| {
                    let array = length_of(target, program)?;
                    match node.str("operator") {
                        Some("=") if node.child("rightHandSide").is_some_and(chosen) => {
                            Some((array, true))
                        }
                        Some("-=") => Some((array, false)),
                        _ => None,
                    }
                }),
                // `x.length--`.
                "UnaryOperation" if node.str("operator") == Some("--") => node
                    .child("subExpression")
                    .and_then(|target| length_of(target, program))
                    .map(|array| (array, false)),
                _ => None,
            };
            let Some((array, set)) = change else {
                return true;
            };
            let name = program
                .declaration(array)
                .map(|d| d.name())
                .unwrap_or_default();
            let entry = if set {
                Some(Lengthening {
                    at: node,
                    contract,
                    function,
                    what: format!("{} sets `{name}.length` to a value the caller chooses", function.display_name()),
                    set_by_caller: true,
                })
            } else {
                match non_empty_check(program, body, array) {
                    Check::Working => None,
                    Check::AlwaysTrue(check) => Some(Lengthening {
                        at: check,
                        contract,
                        function,
                        what: format!(
                            "this check is always true (a length is never negative), so {} can shorten an empty `{name}` and wrap its length to 2^256 − 1",
                            function.display_name()
                        ),
                        set_by_caller: false,
                    }),
                    Check::None => Some(Lengthening {
                        at: node,
                        contract,
                        function,
                        what: format!(
                            "{} shortens `{name}` without checking it is not empty: on an empty array the length wraps to 2^256 − 1",
                            function.display_name()
                        ),
                        set_by_caller: false,
                    }),
                }
            };
            lengthened.entry(array).or_default().extend(entry);
            true
        });
    }
    if lengthened.is_empty() {
        return Vec::new();
    }

    // Writes at a caller's index into those arrays.
    let mut findings = Vec::new();
    let mut reported = HashSet::new();
    for (contract, function) in program.functions() {
        if !open(&function) {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            if !node.is("Assignment") {
                return true;
            }
            let Some(target) = node.child("leftHandSide") else {
                return true;
            };
            let Some(array) = indexed_state_array(program, target, &chosen) else {
                return true;
            };
            let Some(ways) = lengthened.get(&array) else {
                return true;
            };
            let name = program
                .declaration(array)
                .map(|d| d.name())
                .unwrap_or_default();
            for way in ways {
                let line = program.place(node).map_or(0, |(_, line, _, _)| line);
                // Set by the caller: the write at their index is where any slot is reached.
                // Shortened: the missing check is where the fix goes.
                let (at, contract, function, message) = if way.set_by_caller {
                    (
                        node,
                        contract,
                        function,
                        format!(
                            "{} writes `{name}` at an index the caller chooses, and {}: together they write any storage slot (the owner, balances)",
                            function.display_name(),
                            way.what
                        ),
                    )
                } else {
                    (
                        way.at,
                        way.contract,
                        way.function,
                        format!(
                            "{}; with {} writing `{name}` at a caller's index (line {line}), any storage slot can be overwritten",
                            way.what,
                            function.display_name()
                        ),
                    )
                };
                if reported.insert(at.id()) {
                    findings.extend(program.finding(
                        &RULE,
                        at,
                        &contract,
                        Some(&function),
                        message,
                    ));
                }
            }
            true
        });
    }
    findings
}

/// `x[i] = …` (or `x[i].f = …`) with `x` a state array (not a mapping) and `i` chosen by the
/// caller: `x`'s id.
fn indexed_state_array<'a>(
    program: &Program<'a>,
    target: Node<'a>,
    chosen: &dyn Fn(Node<'a>) -> bool,
) -> Option<i64> {
    let mut node = target;
    while node.is("MemberAccess") {
        node = node.child("expression")?;
    }
    if !node.is("IndexAccess") || !node.child("indexExpression").is_some_and(chosen) {
        return None;
    }
    let base = node.child("baseExpression")?;
    let id = base.is("Identifier").then(|| base.referenced())??;
    (program.is_state_variable(id) && base.type_string().ends_with("[] storage ref")).then_some(id)
}

enum Check<'a> {
    /// A condition that the array is not empty (`length > 0`, `!= 0`, `>= 1`).
    Working,
    /// Only a condition that holds for every length (`0 <= length`, `length >= 0`).
    AlwaysTrue(Node<'a>),
    None,
}

/// What `body` checks of `array`'s length before shortening it.
fn non_empty_check<'a>(program: &Program<'_>, body: Node<'a>, array: i64) -> Check<'a> {
    let mut check = Check::None;
    body.walk(&mut |node, _| {
        if !node.is("BinaryOperation") {
            return true;
        }
        let (Some(left), Some(right)) =
            (node.child("leftExpression"), node.child("rightExpression"))
        else {
            return true;
        };
        let zero = |n: Node<'_>| n.is("Literal") && n.str("value") == Some("0");
        let on_length = |n: Node<'_>| length_of(n, program) == Some(array);
        let always_true = match node.str("operator") {
            Some(">=") => on_length(left) && zero(right),
            Some("<=") => zero(left) && on_length(right),
            _ => false,
        };
        if always_true {
            if matches!(check, Check::None) {
                check = Check::AlwaysTrue(node);
            }
        } else if on_length(left) || on_length(right) {
            check = Check::Working;
        }
        true
    });
    check
}
