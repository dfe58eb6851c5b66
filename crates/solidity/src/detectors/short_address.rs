//! Short address (DASP 9, no SWC entry). Before solc 0.5 the ABI decoder does not check that
//! the calldata is as long as the parameters: a transfer to an address missing its last bytes
//! (a client that does not validate it) shifts the amount left by those bytes, multiplying it
//! by 256 per missing byte. Reported for entry functions that move a balance from the caller's
//! entry to an address parameter followed by an amount, without a check of `msg.data.length`.

use crate::{Category, Finding, Rule, Severity, program::Program, taint::written_variable};

pub const RULE: Rule = Rule {
    id: "short-address",
    title: "Amount after an address, calldata length unchecked",
    swc: &[],
    category: Category::ShortAddresses,
    severity: Severity::Low,
    explanation: "Compiled before Solidity 0.5, the function reads an amount after an address \
        and does not check the calldata's length. If a client sends an address missing its \
        last bytes (an exchange that does not validate withdrawal addresses), the amount is \
        read shifted left by the missing bytes: 256 times larger per byte, paid from the \
        sender's balance.",
    fix: "Compile with Solidity 0.5 or later (its decoder reverts on short calldata), or check \
        the length (`require(msg.data.length >= 68)` for `(address, uint256)`); validate \
        addresses in clients.",
};

/// `a <operator> b`, or SafeMath's `a.<method>(b)`.
fn arithmetic(node: crate::ast::Node<'_>, operator: &str, method: &str) -> bool {
    (node.is("BinaryOperation") && node.str("operator") == Some(operator))
        || (node.is("FunctionCall")
            && node
                .child("expression")
                .is_some_and(|c| c.is("MemberAccess") && c.name_of_member() == method))
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if program.checks_calldata_length {
        return findings;
    }
    for (contract, function) in program.functions() {
        if !function.is_entry() {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        let parameters: Vec<_> = function.parameters().collect();
        // An address parameter with an integer after it.
        let Some(recipient) = parameters.iter().enumerate().find_map(|(i, p)| {
            (p.type_string().starts_with("address")
                && parameters[i + 1..]
                    .iter()
                    .any(|q| q.type_string().starts_with("uint")))
            .then(|| p.id())
            .flatten()
        }) else {
            continue;
        };
        // A balance credited to it: `balances[to] = …` or `+=`.
        let credits = body.any(&mut |n| {
            n.is("Assignment")
                && n.child("leftHandSide").is_some_and(|target| {
                    target.is("IndexAccess")
                        && target.child("indexExpression").is_some_and(|i| {
                            i.is("Identifier") && i.referenced() == Some(recipient)
                        })
                        && written_variable(target).is_some_and(|v| program.is_state_variable(v))
                })
                && (n.str("operator") == Some("+=")
                    || n.child("rightHandSide")
                        .is_some_and(|r| r.any(&mut |e| arithmetic(e, "+", "add"))))
        });
        // …and debited from the caller's: `balances[msg.sender] -= …` (a transfer, not an
        // approval or a payout from the contract's own funds).
        let debits_caller = body.any(&mut |n| {
            n.is("Assignment")
                && n.child("leftHandSide").is_some_and(|target| {
                    target.is("IndexAccess")
                        && target
                            .child("indexExpression")
                            .is_some_and(|i| i.is_global_member("msg", "sender"))
                })
                && (n.str("operator") == Some("-=")
                    || n.child("rightHandSide")
                        .is_some_and(|r| r.any(&mut |e| arithmetic(e, "-", "sub"))))
        });
        if !credits || !debits_caller {
            continue;
        }
        let checks_length = |node: crate::ast::Node<'_>| {
            node.any(&mut |n| {
                n.is("MemberAccess")
                    && n.name_of_member() == "length"
                    && n.child("expression")
                        .is_some_and(|e| e.is_global_member("msg", "data"))
            })
        };
        let modifiers_check = function.modifier_ids().into_iter().any(|id| {
            program
                .declaration(id)
                .and_then(|m| m.child("body"))
                .is_some_and(checks_length)
        });
        if checks_length(body) || modifiers_check {
            continue;
        }
        findings.extend(program.finding(
            &RULE,
            function.node(),
            &contract,
            Some(&function),
            format!(
                "{} reads an amount after an address without checking the calldata's length: a short address shifts the amount (before Solidity 0.5)",
                function.display_name()
            ),
        ));
    }
    findings
}
