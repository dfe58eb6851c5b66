//! Unchecked low-level calls (SWC-104): `call`, `delegatecall`, `callcode` and `send` do not
//! revert when the callee fails, they return false. A result that is thrown away, or kept in a
//! variable nothing reads, lets the contract carry on as if the payment or call happened. The
//! same holds for an ERC-20 token's `transfer`, `transferFrom` and `approve`, which the standard
//! lets report failure by returning false.

use crate::{
    Category, Finding, Rule, Severity,
    ast::{Function, Node, callee},
    program::Program,
};
use std::collections::HashSet;

pub const RULE: Rule = Rule {
    id: "unchecked-call",
    title: "Unchecked low-level call",
    swc: &["SWC-104"],
    category: Category::UncheckedLowLevelCalls,
    severity: Severity::Medium,
    explanation: "A low-level call (call, delegatecall, callcode, send) returns false when the \
        callee reverts or runs out of gas, instead of reverting the caller. When the result is \
        ignored the contract records a payment or an effect that never happened, and the ether \
        stays where it was.",
    fix: "Check the result: `(bool ok, ) = to.call{value: v}(\"\"); require(ok, \"...\");` (or \
        `require(to.send(v))` before 0.5), or use `transfer`, or a pull-payment pattern where \
        each recipient withdraws.",
};

pub const UNCHECKED_TRANSFER: Rule = Rule {
    id: "unchecked-transfer",
    title: "Token transfer whose result is ignored",
    swc: &["SWC-104"],
    category: Category::UncheckedLowLevelCalls,
    severity: Severity::High,
    explanation: "ERC-20 lets a token report a failed `transfer`, `transferFrom` or `approve` by \
        returning false instead of reverting, and several widely held tokens do. A contract that \
        ignores the result credits a deposit it never received or records a payout that never \
        left.",
    fix: "Use OpenZeppelin's `SafeERC20` (`token.safeTransfer(to, v)`, `safeTransferFrom`, \
        `forceApprove`), which reverts on false and accepts tokens that return nothing, or \
        `require(token.transfer(to, v))`.",
};

/// ERC-20's functions that return whether they succeeded.
const TOKEN_MOVES: [&str; 3] = ["transfer", "transferFrom", "approve"];

/// The ERC-20 member a call calls on another contract, when it returns the success flag.
fn token_move(call: Node<'_>) -> Option<&'static str> {
    let target = callee(call)?;
    if !target.is("MemberAccess") || call.type_string() != "bool" {
        return None;
    }
    let member = target.name_of_member();
    let found = TOKEN_MOVES.into_iter().find(|m| *m == member)?;
    target
        .type_identifier()
        .starts_with("t_function_external")
        .then_some(found)
}

const LOW_LEVEL: [&str; 4] = ["call", "send", "delegatecall", "callcode"];

/// The low-level member a call's callee names (`call`, `send`, …) on an address, if any.
fn low_level_member(call: Node<'_>) -> Option<&'static str> {
    let target = callee(call)?;
    if !target.is("MemberAccess") {
        return None;
    }
    let member = target.name_of_member();
    let found = LOW_LEVEL.into_iter().find(|m| *m == member)?;
    let base = target.child("expression")?;
    base.type_string().starts_with("address").then_some(found)
}

/// `a.call.value(x)` written without the call's parentheses: nothing is ever called.
fn never_called(call: Node<'_>) -> Option<&'static str> {
    let target = call.child("expression")?;
    if !(target.is("MemberAccess") && matches!(target.name_of_member(), "value" | "gas")) {
        return None;
    }
    let inner = target.child("expression")?;
    let member = inner.name_of_member();
    let found = LOW_LEVEL.into_iter().find(|m| *m == member)?;
    (inner.is("MemberAccess")
        && inner
            .child("expression")?
            .type_string()
            .starts_with("address"))
    .then_some(found)
}

/// The nearest ancestor that is not a parenthesis (a one-element tuple).
fn consumer<'a>(path: &[Node<'a>]) -> Option<Node<'a>> {
    path.iter()
        .rev()
        .find(|n| !(n.is("TupleExpression") && n.children("components").count() == 1))
        .copied()
}

/// Whether the declaration `id` is read anywhere in `body` (other than being assigned).
fn is_read(body: Node<'_>, id: i64) -> bool {
    let mut read = false;
    body.walk(&mut |node, path| {
        if read {
            return false;
        }
        // `assembly { if iszero(ok) { revert(…) } }`: Yul reads it by name.
        if node.is("InlineAssembly") && node.assembly_references().any(|r| r == id) {
            read = true;
            return false;
        }
        if node.is("Identifier") && node.referenced() == Some(id) {
            // `ok = a.call()` writes it; anything else reads it.
            let written = path.last().is_some_and(|parent| {
                parent.is("Assignment")
                    && parent
                        .child("leftHandSide")
                        .is_some_and(|l| l.id() == node.id())
            });
            read = !written;
        }
        true
    });
    read
}

/// Whether the result of `call` (at `path`) reaches a check.
fn is_checked(call: Node<'_>, path: &[Node<'_>], body: Node<'_>) -> bool {
    let Some(parent) = consumer(path) else {
        return false;
    };
    match parent.kind() {
        "ExpressionStatement" => false,
        "VariableDeclarationStatement" => {
            // `bool ok = a.send(1);` or `(bool ok, bytes memory data) = a.call(...)`: the first
            // declared variable holds the success flag.
            let Some(first) = parent.0["declarations"].as_array().and_then(|d| d.first()) else {
                return false;
            };
            match Node::from(first).and_then(|d| d.id()) {
                Some(id) => is_read(body, id),
                None => false,
            }
        }
        "Assignment" => {
            let Some(left) = parent.child("leftHandSide") else {
                return true;
            };
            let target = if left.is("TupleExpression") {
                left.children("components").next()
            } else {
                Some(left)
            };
            match target {
                // A state variable or anything not a plain local is read elsewhere.
                Some(t) if t.is("Identifier") => t
                    .referenced()
                    .is_none_or(|id| is_read(body, id) || is_state(t)),
                _ => true,
            }
        }
        _ => {
            // Checked unless it is the discarded side of a comma or the like; `call` itself
            // being the callee of the consumer never happens.
            let _ = call;
            true
        }
    }
}

fn is_state(identifier: Node<'_>) -> bool {
    identifier.type_string().contains("storage")
}

/// Whether `call` (a token move) runs code of this program that never reports failure: the
/// contract was created by the calling function, so its code is the program's own (`new
/// EIP20(…)` then `token.transfer(…)`), and every `return` of the function called gives `true`
/// (it reverts when it fails).
fn known_to_succeed(program: &Program<'_>, created: &HashSet<i64>, call: Node<'_>) -> bool {
    call.id().is_some_and(|id| created.contains(&id))
        && callee(call)
            .and_then(|c| c.referenced())
            .and_then(|id| program.declaration(id))
            .filter(|d| d.is("FunctionDefinition"))
            .and_then(|d| Function(d).returned_values())
            .is_some_and(|values| {
                !values.is_empty()
                    && values
                        .iter()
                        .all(|v| v.is("Literal") && v.str("value") == Some("true"))
            })
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let created = super::reentrancy::calls_on_created_contracts(program);
    for (contract, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, path| {
            if !node.is("FunctionCall") {
                return true;
            }
            if let Some(member) = never_called(node) {
                // Only the outermost: `a.call.value(1)` is itself inside nothing that calls it.
                let called = consumer(path).is_some_and(|p| {
                    p.is("FunctionCall") && p.child("expression").and_then(|e| e.id()) == node.id()
                });
                if !called {
                    findings.extend(program.finding(
                        &RULE,
                        node,
                        &contract,
                        Some(&function),
                        format!(
                            "`.{member}.value(…)` is never called (the final `()` is missing): \
                             no ether is sent and no call is made, silently"
                        ),
                    ));
                }
                return true;
            }
            if let Some(member) = low_level_member(node)
                && !is_checked(node, path, body)
            {
                findings.extend(program.finding(
                    &RULE,
                    node,
                    &contract,
                    Some(&function),
                    message(member, &function),
                ));
            }
            if let Some(member) = token_move(node)
                && !is_checked(node, path, body)
                && !known_to_succeed(program, &created, node)
            {
                findings.extend(program.finding(
                    &UNCHECKED_TRANSFER,
                    node,
                    &contract,
                    Some(&function),
                    format!(
                        "the result of the token's `{member}` in {} is not checked: a token \
                         that returns false instead of reverting leaves the contract acting on \
                         a transfer that did not happen",
                        function.display_name()
                    ),
                ));
            }
            true
        });
    }
    findings
}

fn message(member: &str, function: &Function<'_>) -> String {
    format!(
        "the result of `{member}` in {} is not checked: if it fails, execution continues as \
         if it succeeded",
        function.display_name()
    )
}
