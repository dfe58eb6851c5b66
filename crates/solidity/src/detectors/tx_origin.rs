//! Authorization by `tx.origin` (SWC-115): `tx.origin` is the account that started the
//! transaction, not the caller, so any contract the owner is tricked into calling can act as
//! the owner.

use crate::{Category, Finding, Rule, Severity, program::Program};

pub const RULE: Rule = Rule {
    id: "tx-origin",
    title: "Authorization through tx.origin",
    swc: &["SWC-115"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "`tx.origin` is the externally owned account that started the transaction, \
        whatever contracts it passed through. A check like `require(tx.origin == owner)` is \
        passed by a malicious contract the owner calls for any reason: it calls this contract \
        and acts with the owner's authority (phishing).",
    fix: "Authorize `msg.sender`, the immediate caller: `require(msg.sender == owner)`. Use \
        `tx.origin` only to tell whether the caller is an account (`msg.sender == tx.origin`), \
        and not for authorization.",
};

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (contract, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, path| {
            if !node.is_global_member("tx", "origin") {
                return true;
            }
            // Compared with something (`tx.origin == owner`), except with msg.sender itself
            // (`msg.sender == tx.origin` asks whether the caller is an account).
            let Some(comparison) = path.iter().rev().find(|p| p.is("BinaryOperation")) else {
                return true;
            };
            if !matches!(comparison.str("operator"), Some("==" | "!=")) {
                return true;
            }
            let other_is_sender = ["leftExpression", "rightExpression"].iter().any(|side| {
                comparison
                    .child(side)
                    .is_some_and(|e| e.is_global_member("msg", "sender"))
            });
            if other_is_sender {
                return true;
            }
            findings.extend(program.finding(
                &RULE,
                *comparison,
                &contract,
                Some(&function),
                format!(
                    "{} authorizes by `tx.origin`: a contract its owner calls can pass this check",
                    function.display_name()
                ),
            ));
            true
        });
    }
    findings
}
