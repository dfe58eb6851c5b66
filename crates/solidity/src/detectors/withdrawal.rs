//! Unprotected ether withdrawal (SWC-105): a function anyone can call pays the caller more than
//! the contract owes them. Two shapes, each a missing or inverted check an auditor looks for:
//! the caller is paid their recorded credit (`balances[msg.sender]`) and nothing records the
//! payment, so they are paid again on every call; or the caller names the amount and no check
//! bounds it from above (`require(amount >= balances[msg.sender])`, the sign confused), so they
//! name the contract's balance; or the caller is paid the contract's whole balance and nothing
//! — no check, no branch, no modifier — stands before the payment. Functions only an owner may
//! call are not reported: paying the owner is their business.

use crate::{
    Category, Finding, Rule, Severity,
    ast::{Function, Node, payment, unconverted},
    program::Program,
};
use std::collections::HashSet;

pub const RULE: Rule = Rule {
    id: "unprotected-withdrawal",
    title: "Anyone can withdraw more than they are owed",
    swc: &["SWC-105"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "A function any account can call pays the caller without bounding the amount \
        by what the contract owes them: a recorded credit paid without being reduced is paid \
        again on every call, and an amount the caller names with no upper bound (a check \
        written the wrong way round) can be the whole balance.",
    fix: "Reduce the credit before paying it (`uint a = credit[msg.sender]; credit[msg.sender] \
        = 0; payable(msg.sender).transfer(a);`), and bound a requested amount from above: \
        `require(amount <= balances[msg.sender])`.",
};

/// `msg.sender`, `tx.origin`, or a call that returns the sender (`_msgSender()`).
fn is_caller(program: &Program<'_>, node: Node<'_>) -> bool {
    program.is_sender(node) || node.is_global_member("tx", "origin")
}

/// `m[msg.sender]` with `m` a state variable: the caller's entry.
fn callers_entry(program: &Program<'_>, node: Node<'_>) -> Option<i64> {
    if !node.is("IndexAccess")
        || !node
            .child("indexExpression")
            .is_some_and(|n| is_caller(program, n))
    {
        return None;
    }
    let base = node.child("baseExpression")?;
    let id = base.referenced()?;
    (base.is("Identifier") && program.is_state_variable(id)).then_some(id)
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (contract, function) in program.functions() {
        if !function.is_entry() || super::access_control::owner_only(program, function) {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        // Locals holding the caller's entry (`uint a = balances[msg.sender]`).
        let mut entry_locals: HashSet<i64> = HashSet::new();
        // Entries of the caller this function writes, and what it bounds from above.
        let mut written_entries = false;
        let mut bounded: HashSet<String> = HashSet::new();
        // What it bounds from below, with the statement that does: a check the wrong way round.
        let mut bounded_below: Vec<(String, Node<'_>)> = Vec::new();
        body.walk(&mut |node, path| {
            match node.kind() {
                "VariableDeclarationStatement"
                    if node
                        .child("initialValue")
                        .is_some_and(|v| callers_entry(program, v).is_some()) =>
                {
                    entry_locals.extend(node.children("declarations").filter_map(|d| d.id()));
                }
                "Assignment" => {
                    written_entries |= node.child("leftHandSide").is_some_and(|target| {
                        target.any(&mut |n| callers_entry(program, n).is_some())
                    });
                }
                "UnaryOperation" if node.str("operator") == Some("delete") => {
                    written_entries |= node.any(&mut |n| callers_entry(program, n).is_some());
                }
                "BinaryOperation" => {
                    if let (Some(l), Some(r)) =
                        (node.child("leftExpression"), node.child("rightExpression"))
                    {
                        let statement = path
                            .iter()
                            .rev()
                            .find(|p| p.is("ExpressionStatement") || p.is("IfStatement"))
                            .copied()
                            .unwrap_or(node);
                        let (small, large) = match node.str("operator") {
                            Some("<" | "<=") => (l, r),
                            Some(">" | ">=") => (r, l),
                            _ => return true,
                        };
                        bounded.insert(program.text(small));
                        bounded_below.push((program.text(large), statement));
                    }
                }
                _ => {}
            }
            true
        });
        body.walk(&mut |node, path| {
            let Some((recipient, amount)) = node.is("FunctionCall").then(|| payment(node)).flatten()
            else {
                return true;
            };
            if !is_caller(program, unconverted(recipient)) {
                return true;
            }
            let mut at = path
                .iter()
                .rev()
                .find(|p| p.is("ExpressionStatement"))
                .copied()
                .unwrap_or(node);
            let message = if !written_entries && pays_entry(program, amount, &entry_locals) {
                Some(format!(
                    "{} pays the caller their recorded `{}` and never reduces it: they are paid again on every call",
                    function.display_name(),
                    program.text(amount)
                ))
            } else if names_amount(&function, amount)
                && !bounded.contains(&program.text(amount))
                && !debits_checked(program, body, amount)
            {
                let text = program.text(amount);
                // A check that bounds it from below is where the fix goes: flip it.
                match bounded_below.iter().find(|(large, _)| *large == text) {
                    Some((_, check)) => {
                        at = *check;
                        Some(format!(
                            "{} pays the caller `{text}`, an amount they choose, and this check bounds it only from below: it is the wrong way round",
                            function.display_name(),
                        ))
                    }
                    None => Some(format!(
                        "{} pays the caller `{text}`, an amount they choose, and nothing bounds it from above",
                        function.display_name(),
                    )),
                }
            } else if is_own_balance(program, amount)
                && unconditional(program, function, body, node, path)
            {
                Some(format!(
                    "{} pays any caller the contract's whole balance and checks nothing first: the first stranger to call it takes every deposit",
                    function.display_name(),
                ))
            } else {
                None
            };
            if let Some(message) = message {
                findings.extend(program.finding(&RULE, at, &contract, Some(&function), message));
            }
            true
        });
    }
    findings
}

/// Whether `amount` is the caller's entry, directly or through a local holding it.
fn pays_entry(program: &Program<'_>, amount: Node<'_>, entry_locals: &HashSet<i64>) -> bool {
    callers_entry(program, amount).is_some()
        || (amount.is("Identifier")
            && amount
                .referenced()
                .is_some_and(|id| entry_locals.contains(&id)))
}

/// Whether `amount` is one of `function`'s parameters, as is.
fn names_amount(function: &Function<'_>, amount: Node<'_>) -> bool {
    amount.is("Identifier")
        && amount
            .referenced()
            .is_some_and(|id| function.parameters().any(|p| p.id() == Some(id)))
}

/// Whether subtracting `amount` from state reverts when it is more than the state holds: that is
/// the bound. With checked arithmetic (0.8) `x -= amount` and `x = x - amount`; at any version a
/// call of a function that refuses a second operand larger than its first (SafeMath's `sub`:
/// `x = x.sub(amount)`, `SafeMath.sub(x, amount)`), with `x` read from state.
fn debits_checked(program: &Program<'_>, body: Node<'_>, amount: Node<'_>) -> bool {
    let text = program.text(amount);
    let is_amount = |node: Node<'_>| program.text(unconverted(node)) == text;
    body.any(&mut |node| {
        if program.checked_arithmetic && node.is("Assignment") {
            let subtracted = match node.str("operator") {
                Some("-=") => node.child("rightHandSide"),
                Some("=") => node
                    .child("rightHandSide")
                    .map(unconverted)
                    .filter(|r| r.is("BinaryOperation") && r.str("operator") == Some("-"))
                    .and_then(|r| r.child("rightExpression")),
                _ => None,
            };
            if subtracted.is_some_and(is_amount) {
                return true;
            }
        }
        node.is("FunctionCall")
            && checked_subtraction(program, node).is_some_and(|(from, subtracted)| {
                is_amount(subtracted) && reads_state(program, from)
            })
    })
}

/// `(x, y)` when `call` computes `x - y` with a function that reverts unless `y <= x`: a `pure`
/// or `view` function of the program whose body requires it of its two parameters (`require(b
/// <= a)`, `assert(a >= b)`, `if (b > a) revert();`). A library function bound with `using for`
/// takes its receiver first.
fn checked_subtraction<'a>(program: &Program<'_>, call: Node<'a>) -> Option<(Node<'a>, Node<'a>)> {
    let callee = program.called_function(call)?;
    if !callee.is_view() {
        return None;
    }
    let parameters: Vec<i64> = callee.parameters().filter_map(|p| p.id()).collect();
    let arguments = crate::ast::arguments_for(call, callee);
    let ([from, subtracted], [from_id, subtracted_id]) = (&arguments[..], &parameters[..]) else {
        return None;
    };
    let names = |node: Node<'_>, id: i64| {
        let node = unconverted(node);
        node.is("Identifier") && node.referenced() == Some(id)
    };
    // `small <= large` (or `<`) with the subtrahend small and the minuend large.
    let bounds = |condition: Node<'_>, holds: bool| {
        let condition = unconverted(condition);
        let (Some(l), Some(r)) = (
            condition.child("leftExpression"),
            condition.child("rightExpression"),
        ) else {
            return false;
        };
        let (small, large) = match (condition.str("operator"), holds) {
            (Some("<=" | "<"), true) | (Some(">" | ">="), false) => (l, r),
            (Some(">=" | ">"), true) | (Some("<" | "<="), false) => (r, l),
            _ => return false,
        };
        names(small, *subtracted_id) && names(large, *from_id)
    };
    let body = callee.body()?;
    body.any(&mut |node| {
        program
            .enforced_condition(node)
            .is_some_and(|(condition, holds)| bounds(condition, holds))
    })
    .then_some((*from, *subtracted))
}

/// Whether `node` reads a state variable (`balances[msg.sender]`, `total`).
fn reads_state(program: &Program<'_>, node: Node<'_>) -> bool {
    crate::taint::written_variable(unconverted(node))
        .is_some_and(|id| program.is_state_variable(id))
}

/// `this.balance` or `address(this).balance`: everything the contract holds.
fn is_own_balance(program: &Program<'_>, amount: Node<'_>) -> bool {
    let amount = unconverted(amount);
    amount.is("MemberAccess")
        && amount.name_of_member() == "balance"
        && amount
            .child("expression")
            .map(unconverted)
            .is_some_and(|base| program.is_global(base, "this"))
}

/// Whether the payment `call` (below `path`) runs on every call of `function`: not inside a
/// branch or a loop, no check, revert or call of another function before it in the body, and
/// no modifier that checks anything.
fn unconditional(
    program: &Program<'_>,
    function: Function<'_>,
    body: Node<'_>,
    call: Node<'_>,
    path: &[Node<'_>],
) -> bool {
    const BRANCHES: [&str; 6] = [
        "IfStatement",
        "Conditional",
        "ForStatement",
        "WhileStatement",
        "DoWhileStatement",
        "TryStatement",
    ];
    if path.iter().any(|p| BRANCHES.contains(&p.kind())) {
        return false;
    }
    let checks = |node: Node<'_>| {
        node.is("Throw")
            || node.is("RevertStatement")
            || node.is("InlineAssembly")
            || BRANCHES.contains(&node.kind())
            || (node.is("FunctionCall")
                && node.str("kind") == Some("functionCall")
                && node.child("expression").is_some_and(|c| {
                    ["require", "assert", "revert"]
                        .iter()
                        .any(|name| program.is_global(c, name))
                        || program.called_function(node).is_some()
                }))
    };
    let Some(at) = call.span().map(|s| s.start) else {
        return false;
    };
    // Before the payment, and not around it (`require(msg.sender.send(this.balance))`).
    let checked_before = body.any(&mut |node| {
        node.span().is_some_and(|s| s.start < at)
            && !path.iter().any(|p| p.id() == node.id())
            && checks(node)
    });
    let checking_modifier = function.node().children("modifiers").any(|m| {
        m.child("modifierName")
            .and_then(|n| n.referenced())
            .and_then(|id| program.declaration(id))
            .is_none_or(|d| {
                !d.is("ModifierDefinition")
                    || Function(d).body().is_none_or(|b| b.any(&mut |n| checks(n)))
            })
    });
    !checked_before && !checking_modifier
}
