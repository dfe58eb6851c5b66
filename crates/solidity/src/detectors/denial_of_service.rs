//! Denial of service (SWC-113, SWC-128). A payment whose failure reverts the whole function,
//! to a recipient anyone can become (a state variable written from `msg.sender`, an entry of a
//! list callers add themselves to), lets one recipient that refuses ether block everyone: the
//! auction nobody can outbid, the refund loop that never completes. A loop whose length the
//! caller chooses, or that grows a list on every call, ends up needing more gas than a block
//! has — and so does emptying a list callers grow (`l = new T[](0)`, `delete l`,
//! `l.length = 0`), which writes every element.

use crate::{
    Category, Finding, Rule, Severity,
    ast::{FunctionKind, Node, address_member_call},
    program::Program,
    taint::written_variable,
};
use std::collections::HashSet;

pub const FAILED_PAYMENT: Rule = Rule {
    id: "dos-failed-payment",
    title: "A refused payment blocks the function",
    swc: &["SWC-113"],
    category: Category::DenialOfService,
    severity: Severity::Medium,
    explanation: "The function pays an address anyone can put there (by bidding, by joining a \
        list) and reverts if the payment fails (`require(a.send(v))`, `a.transfer(v)`). A \
        contract whose fallback reverts becomes that address and nothing can get past it: the \
        auction is never outbid, the refund loop never finishes (King of the Ether, 2016).",
    fix: "Pull, don't push: record what each address is owed and let it withdraw; never make \
        other users' progress depend on one recipient accepting ether.",
};

pub const UNBOUNDED_LOOP: Rule = Rule {
    id: "dos-unbounded-loop",
    title: "Loop the caller can make longer than a block",
    swc: &["SWC-128"],
    category: Category::DenialOfService,
    severity: Severity::Medium,
    explanation: "The loop runs as many times as the caller says, or adds to a list every call \
        makes longer. Once it needs more gas than a block holds, the function can never run \
        again, and whatever only it can do is stuck.",
    fix: "Bound the iterations (a maximum per call), process long lists in pages across \
        transactions, and let users act on their own entries instead of iterating over all.",
};

/// State variables some function sets from `msg.sender` or grows with `push`: recipients that
/// anyone can become. A function only one fixed account may call (`require(msg.sender ==
/// owner)`) does not count: its list grows as that account decides, not as anyone does.
fn caller_set(program: &Program<'_>) -> HashSet<i64> {
    let mut set = HashSet::new();
    for (_, function) in program.functions() {
        if !function.is_entry() || super::access_control::admin_only(program, function) {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            if node.is("Assignment")
                && node
                    .child("rightHandSide")
                    .is_some_and(|r| r.any(&mut |n| n.is_global_member("msg", "sender")))
            {
                set.extend(node.child("leftHandSide").and_then(written_variable));
            }
            if node.is("FunctionCall")
                && let Some(target) = node.child("expression")
                && target.is("MemberAccess")
                && target.name_of_member() == "push"
            {
                set.extend(target.child("expression").and_then(written_variable));
            }
            true
        });
    }
    set.retain(|id| program.is_state_variable(*id));
    set
}

/// A payment that reverts when it fails, and its recipient: `x.transfer(v)`, or `x.send(v)` /
/// `x.call…` as the condition of `require`/`assert`.
fn reverting_payment<'a>(
    program: &Program<'_>,
    call: Node<'a>,
    path: &[Node<'a>],
) -> Option<Node<'a>> {
    let (recipient, member) = address_member_call(call)?;
    // `payable(a).transfer(v)` pays `a`.
    let recipient = crate::ast::unconverted(recipient);
    match member {
        "transfer" => Some(recipient),
        "send" | "call" => path
            .iter()
            .rev()
            .find(|p| p.is("FunctionCall"))
            .filter(|p| {
                p.child("expression").is_some_and(|c| {
                    program.is_global(c, "require") || program.is_global(c, "assert")
                })
            })
            .map(|_| recipient),
        _ => None,
    }
}

/// The list a statement empties: `l = new T[](0)`, `delete l`, `l.length = 0`.
fn cleared_list(node: Node<'_>) -> Option<Node<'_>> {
    match node.kind() {
        "Assignment" if node.str("operator") == Some("=") => {
            let target = node.child("leftHandSide")?;
            let value = node.child("rightHandSide")?;
            let emptied = |n: Node<'_>| n.is("Literal") && n.str("value") == Some("0");
            if target.is("MemberAccess") && target.name_of_member() == "length" {
                return emptied(value).then(|| target.child("expression"))?;
            }
            let new_array = value.is("FunctionCall")
                && value
                    .child("expression")
                    .is_some_and(|e| e.is("NewExpression"))
                && value.children("arguments").next().is_some_and(emptied);
            new_array.then_some(target)
        }
        "UnaryOperation" if node.str("operator") == Some("delete") => node.child("subExpression"),
        _ => None,
    }
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let anyone = caller_set(program);
    for (contract, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        // A payment in a function only some may call blocks only them — unless it is in a loop,
        // where one refusing recipient holds up every later one, whoever runs it (the owner's
        // refund loop that can never finish).
        let own = super::access_control::protected(program, function, 0);
        body.walk(&mut |node, path| {
            let in_loop = path
                .iter()
                .any(|p| matches!(p.kind(), "ForStatement" | "WhileStatement" | "DoWhileStatement"));
            if (!own || in_loop)
                && node.is("FunctionCall")
                && let Some(recipient) = reverting_payment(program, node, path)
                && !recipient.is_global_member("msg", "sender")
                // Anyone can become the recipient; or, in a loop, any stored recipient: one that
                // refuses (a contract without a payable fallback) holds up every later one.
                && written_variable(recipient).is_some_and(|id| {
                    anyone.contains(&id) || (in_loop && program.is_state_variable(id))
                })
            {
                // Report the statement: `require(a.send(v))` is where the fix goes.
                let at = path.iter().rev().find(|p| p.is("ExpressionStatement")).copied().unwrap_or(node);
                findings.extend(program.finding(
                    &FAILED_PAYMENT,
                    at,
                    &contract,
                    Some(&function),
                    format!(
                        "{} pays `{}`{}, which anyone can become, and reverts if it refuses: one refusing contract blocks this function",
                        function.display_name(),
                        program.text(recipient),
                        if in_loop { " in a loop" } else { "" },
                    ),
                ));
            }
            // Clearing a stored list (`l = new T[](0)`, `delete l`, `l.length = 0`) writes
            // every element: a loop the compiler writes, as long as callers made the list.
            if function.kind() != FunctionKind::Constructor
                && let Some(list) = cleared_list(node)
                && list.type_string().ends_with("[] storage ref")
                && written_variable(list).is_some_and(|id| anyone.contains(&id))
            {
                findings.extend(program.finding(
                    &UNBOUNDED_LOOP,
                    node,
                    &contract,
                    Some(&function),
                    format!(
                        "clearing `{}` writes each of its elements, and every caller can add to it: once long enough, clearing it exceeds the block gas limit and {} can never run",
                        program.text(list),
                        function.display_name()
                    ),
                ));
            }
            if function.is_entry() && matches!(node.kind(), "ForStatement" | "WhileStatement") {
                // Bounded by a list other callers grow: everyone's calls get longer.
                let over_grown_list = node.child("condition").is_some_and(|c| {
                    c.any(&mut |n| {
                        n.is("MemberAccess")
                            && n.name_of_member() == "length"
                            && n.child("expression")
                                .and_then(written_variable)
                                .is_some_and(|id| anyone.contains(&id))
                    })
                });
                // Growing a stored list on every call (`push`, `length += …`).
                let grows_state = node.child("body").is_some_and(|b| {
                    b.any(&mut |n| {
                        let list = match n.kind() {
                            "FunctionCall" => n.child("expression").filter(|t| {
                                t.is("MemberAccess") && t.name_of_member() == "push"
                            }),
                            "Assignment" => n.child("leftHandSide").filter(|l| {
                                l.is("MemberAccess") && l.name_of_member() == "length"
                            }),
                            _ => None,
                        };
                        list.and_then(|l| l.child("expression"))
                            .and_then(written_variable)
                            .and_then(|id| program.declaration(id))
                            .is_some_and(|d| d.flag("stateVariable"))
                    })
                });
                if over_grown_list || grows_state {
                    findings.extend(program.finding(
                        &UNBOUNDED_LOOP,
                        node,
                        &contract,
                        Some(&function),
                        if over_grown_list {
                            "this loop runs over a list every caller can add to: once long enough it exceeds the block gas limit".into()
                        } else {
                            "this loop adds to a stored list on every call: iterating or clearing it eventually exceeds the block gas limit".into()
                        },
                    ));
                }
            }
            true
        });
    }
    findings
}
