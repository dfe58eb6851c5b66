//! Front running, transaction-order dependence (SWC-114). Everything a transaction carries is
//! public in the mempool before it is ordered, and whoever pays more gas is ordered first. Two
//! shapes are reported: a payment to whoever reveals a secret (the preimage of a stored hash),
//! which anyone can copy from the first solver's pending transaction; and a payment of terms
//! that a privileged function sets and anyone may collect (a reward the owner can change while
//! a claim is pending), reported wherever those terms are paid.

use crate::{
    Category, Finding, Rule, Severity,
    ast::{Function, Node, payment},
    program::Program,
    taint::written_variable,
};
use std::collections::HashSet;

pub const REVEALED_SECRET: Rule = Rule {
    id: "front-running-secret",
    title: "Payment for a secret that the transaction reveals",
    swc: &["SWC-114"],
    category: Category::FrontRunning,
    severity: Severity::Medium,
    explanation: "The function pays the caller when an argument hashes to a stored value. The \
        argument is readable in the pending transaction: anyone who sees the first correct \
        answer can send it again with a higher gas price and be paid instead.",
    fix: "Use commit-reveal: first accept `keccak256(abi.encodePacked(answer, msg.sender, \
        salt))`, and only in a later block the answer itself, paying the address that \
        committed it.",
};

pub const ORDER_DEPENDENT_PAYMENT: Rule = Rule {
    id: "transaction-order-dependence",
    title: "Payment amount another transaction can change",
    swc: &["SWC-114"],
    category: Category::FrontRunning,
    severity: Severity::Low,
    explanation: "The amount paid is a state variable that a privileged function sets and any \
        caller can collect. Which transaction is ordered first decides the payment: the owner \
        can lower a reward (or raise a fee) while a claim is pending, or a claim can race the \
        change.",
    fix: "Make the amount part of the request (`claim(expectedReward)` reverting when it \
        differs), or lock the value while claims are open.",
};

/// Every payment in `function`'s body.
fn payments<'a>(function: &Function<'a>) -> Vec<(Node<'a>, Node<'a>, Node<'a>)> {
    let mut found = Vec::new();
    if let Some(body) = function.body() {
        body.walk(&mut |node, _| {
            if node.is("FunctionCall")
                && let Some((recipient, amount)) = payment(node)
            {
                found.push((node, recipient, amount));
            }
            true
        });
    }
    found
}

/// `msg.sender`, also converted (`payable(msg.sender)`, `address(msg.sender)`).
fn is_sender(node: Node<'_>) -> bool {
    if node.is_global_member("msg", "sender") {
        return true;
    }
    node.is("FunctionCall")
        && node.str("kind") == Some("typeConversion")
        && node.children("arguments").next().is_some_and(is_sender)
}

fn is_hash_call(program: &Program<'_>, node: Node<'_>) -> bool {
    node.is("FunctionCall")
        && node.child("expression").is_some_and(|c| {
            ["keccak256", "sha3", "sha256"]
                .iter()
                .any(|h| program.is_global(c, h))
        })
}

/// State variables of a single value (not mappings or arrays) that an entry function only a
/// privileged caller may call (an owner check) assigns: terms that can change under a pending
/// transaction.
fn terms_set_by_privileged_transactions(program: &Program<'_>) -> HashSet<i64> {
    let mut set = HashSet::new();
    for (_, function) in program.functions() {
        if !function.is_entry() || !super::access_control::protected(program, function, 0) {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            if node.is("Assignment") {
                set.extend(node.child("leftHandSide").and_then(|target| {
                    target.is("Identifier").then(|| written_variable(target))?
                }));
            }
            true
        });
    }
    set.retain(|id| {
        program.is_state_variable(*id)
            && program.declaration(*id).is_some_and(|d| {
                let kind = d.type_string();
                !kind.starts_with("mapping") && !kind.contains('[') && !kind.starts_with("struct")
            })
    });
    set
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let terms = terms_set_by_privileged_transactions(program);
    // Terms anyone can collect: paid to the caller by a function anyone may call.
    let collected: HashSet<i64> = program
        .functions()
        .filter(|(_, f)| f.is_entry() && !super::access_control::protected(program, *f, 0))
        .flat_map(|(_, f)| payments(&f))
        .filter(|(_, recipient, _)| is_sender(*recipient))
        .flat_map(|(_, _, amount)| {
            terms
                .iter()
                .copied()
                .filter(|id| amount.any(&mut |n| n.is("Identifier") && n.referenced() == Some(*id)))
                .collect::<Vec<_>>()
        })
        .collect();
    for (contract, function) in program.functions() {
        if !function.is_entry() {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        let paid = payments(&function);
        // A secret revealed for a payment to the caller.
        let pays_caller = paid.iter().any(|(_, recipient, _)| is_sender(*recipient));
        // A hash that binds the sender (commit-reveal) makes a copied answer useless.
        let binds_sender = body.any(&mut |n| {
            is_hash_call(program, n) && n.any(&mut |m| m.is_global_member("msg", "sender"))
        });
        if pays_caller && !binds_sender {
            let parameters: HashSet<i64> = function.parameters().filter_map(|p| p.id()).collect();
            body.walk(&mut |node, _| {
                if !node.is("BinaryOperation") || !matches!(node.str("operator"), Some("==")) {
                    return true;
                }
                let hashes_argument = ["leftExpression", "rightExpression"].iter().any(|side| {
                    node.child(side).is_some_and(|e| {
                        is_hash_call(program, e)
                            && e.any(&mut |n| {
                                n.is("Identifier")
                                    && n.referenced().is_some_and(|id| parameters.contains(&id))
                            })

                    })
                });
                if hashes_argument {
                    findings.extend(program.finding(
                        &REVEALED_SECRET,
                        node,
                        &contract,
                        Some(&function),
                        format!(
                            "{} pays the caller for an argument whose hash matches: the answer is public in the pending transaction, and a copy with more gas is paid first",
                            function.display_name()
                        ),
                    ));
                }
                true
            });
        }
        // An amount another transaction sets.
        for (call, _, amount) in paid {
            let Some(variable) = collected
                .iter()
                .copied()
                .find(|id| amount.any(&mut |n| n.is("Identifier") && n.referenced() == Some(*id)))
            else {
                continue;
            };
            let name = program
                .declaration(variable)
                .map(|d| d.name())
                .unwrap_or_default();
            findings.extend(program.finding(
                &ORDER_DEPENDENT_PAYMENT,
                call,
                &contract,
                Some(&function),
                format!(
                    "{} pays `{name}`, which a privileged transaction can change while a claim is pending: their order decides the amount",
                    function.display_name()
                ),
            ));
        }
    }
    findings
}
