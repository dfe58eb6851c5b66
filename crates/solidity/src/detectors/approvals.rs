//! Approvals anyone can spend (SWC-105). Users approve a contract — a router, a vault, a
//! marketplace, a bridge — to move their tokens, and it moves them with `transferFrom`. When a
//! function any account can call lets the caller name the account tokens are taken from, or makes
//! a call whose target and data the caller chooses, every approval given to the contract is the
//! caller's to spend (the approval-drain exploits of DEX aggregators and bridges were this), and
//! with an arbitrary call so is every token the contract holds.
//!
//! Not reported: tokens taken from the caller or the contract itself; a `from` the function
//! authorizes (a condition on it beyond "not zero": a signature, an allow-list, the caller's
//! allowance) or one a `permit` with the same owner precedes; functions that check their caller
//! (an owner's function); calls whose data the contract builds itself with a fixed selector
//! (`abi.encodeWithSelector(IERC20.transfer.selector, …)`, a safe-transfer helper); and arbitrary
//! calls from contracts that neither hold nor pull tokens (a multicall holds nothing to lose).

use super::access_control::asks_about;
use crate::{
    Category, Finding, Rule, Severity,
    ast::{
        Function, Node, TOKEN_HOLDINGS, TOKEN_PULLS, address_member_call, callee, token_call,
        unconverted,
    },
    program::{Contract, Program},
    taint::{Flow, Taint, written_variable},
};
use std::collections::HashSet;

pub const ARBITRARY_TRANSFER_FROM: Rule = Rule {
    id: "arbitrary-transfer-from",
    title: "Anyone can move tokens approved to the contract",
    swc: &["SWC-105"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "A function any account can call takes tokens with `transferFrom` from an \
        account the caller names. Every account that approved this contract (to deposit, swap \
        or sell) can be emptied by anyone: they name the victim as `from` and choose where the \
        tokens go or whom they are credited to.",
    fix: "Take tokens only from the caller (`transferFrom(msg.sender, …)`) or from an account \
        that authorized this very transfer (`permit`, a signature the function checks against \
        `from`), and restrict anything else to trusted callers.",
};

pub const ARBITRARY_CALL: Rule = Rule {
    id: "arbitrary-call",
    title: "Anyone can make the contract call anything",
    swc: &["SWC-105"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "A function any account can call makes a low-level call whose target and data \
        the caller chooses, from a contract that pulls or holds tokens. To the called contract \
        the call comes from this one: the caller makes it run `token.transferFrom(victim, \
        caller, amount)` against every approval given to it, or `token.transfer(caller, \
        balance)` on what it holds.",
    fix: "Call only targets the contract trusts (an allow-list that excludes token contracts), \
        forward only allowed selectors, and keep approvals on a separate contract that only \
        ever takes tokens from `msg.sender`.",
};

/// Whether `contract` (with what it inherits) pulls tokens from accounts that approved it, and
/// whether it moves tokens at all.
fn token_use(program: &Program<'_>, contract: &Contract<'_>) -> (bool, bool) {
    let (mut pulls, mut moves) = (false, false);
    for id in contract.linearized() {
        let Some(base) = program.contract(id) else {
            continue;
        };
        for function in base.functions() {
            let Some(body) = function.body() else {
                continue;
            };
            body.walk(&mut |node, _| {
                if node.is("FunctionCall") {
                    pulls |= token_call(node, &TOKEN_PULLS).is_some();
                    moves |= token_call(node, &TOKEN_HOLDINGS).is_some();
                }
                true
            });
        }
    }
    (pulls, pulls || moves)
}

/// Whether `body` says something of variable `id` beyond "it is not zero" in a condition (of
/// `require`, `assert`, `if`) — compares it with a signer or the caller, looks it up, passes it
/// to a check — directly or in a function of the program it passes `id` to (`signature.verify(
/// hash, owner)`), `depth` calls deep.
fn authorizes(program: &Program<'_>, body: Node<'_>, id: i64, depth: usize) -> bool {
    let mut names = |node: Node<'_>| node.is("Identifier") && node.referenced() == Some(id);
    let mut found = false;
    body.walk(&mut |node, _| {
        if found {
            return false;
        }
        let condition = match node.kind() {
            "IfStatement" => node.child("condition"),
            "FunctionCall"
                if node.child("expression").is_some_and(|c| {
                    program.is_global(c, "require") || program.is_global(c, "assert")
                }) =>
            {
                node.children("arguments").next()
            }
            "FunctionCall" if depth < 2 => {
                found = checked_by_callee(program, node, id, depth);
                None
            }
            _ => None,
        };
        if let Some(condition) = condition {
            found = asks_about(program, condition, &mut names, false);
        }
        true
    });
    found
}

/// Whether `call` passes variable `id` to a function of the program that checks the parameter
/// it lands in ([`authorizes`]). A library function bound with `using … for` takes the value it
/// is called on first.
fn checked_by_callee(program: &Program<'_>, call: Node<'_>, id: i64, depth: usize) -> bool {
    let Some(function) = program.called_function(call) else {
        return false;
    };
    let Some(body) = function.body() else {
        return false;
    };
    let bound = callee(call).is_some_and(|c| {
        c.is("MemberAccess")
            && c.child("expression").is_some_and(|base| {
                let base_type = base.type_string();
                let this = base.is("Identifier") && base.name() == "this";
                !(base_type.starts_with("type(") || base_type.starts_with("contract super") || this)
            })
    });
    let mut passed: Vec<Node<'_>> = call.children("arguments").collect();
    if bound && let Some(base) = callee(call).and_then(|c| c.child("expression")) {
        passed.insert(0, base);
    }
    let parameters: Vec<Node<'_>> = function.parameters().collect();
    passed
        .iter()
        .zip(parameters.iter())
        .any(|(argument, parameter)| {
            unconverted(*argument).referenced() == Some(id)
                && parameter
                    .id()
                    .is_some_and(|p| authorizes(program, body, p, depth + 1))
        })
}

/// Whether `body` calls `permit` on a token with variable `id` as the owner: the owner's signature
/// authorizes what follows.
fn permitted(body: Node<'_>, id: i64) -> bool {
    body.any(&mut |node| {
        node.is("FunctionCall")
            && token_call(node, &["permit", "safePermit"]).is_some_and(|arguments| {
                arguments
                    .first()
                    .is_some_and(|owner| unconverted(*owner).referenced() == Some(id))
            })
    })
}

/// Whether the account `from` (in `function`) is authorized: by a condition or a `permit` in the
/// function, or — for an internal function — in every function that calls it with an account
/// someone names (not the caller, this contract or a constant).
fn authorized(program: &Program<'_>, function: Function<'_>, from: Node<'_>) -> bool {
    let Some(id) = unconverted(from).referenced() else {
        return false;
    };
    let Some(body) = function.body() else {
        return false;
    };
    if authorizes(program, body, id, 0) || permitted(body, id) {
        return true;
    }
    // A parameter of an internal function: look at what each caller passes there.
    let Some(position) = function.parameters().position(|p| p.id() == Some(id)) else {
        return false;
    };
    if function.is_entry() {
        return false;
    }
    let mut callers = 0;
    let mut all = true;
    for (_, caller) in program.functions() {
        let Some(caller_body) = caller.body() else {
            continue;
        };
        caller_body.walk(&mut |node, _| {
            if node.is("FunctionCall")
                && program
                    .called_function(node)
                    .is_some_and(|f| f.node().id() == function.node().id())
            {
                let argument = node.children("arguments").nth(position).map(unconverted);
                // The caller itself, this contract or a constant: not an account anyone names.
                if argument.is_some_and(|a| {
                    program.is_sender(a)
                        || a.is("Literal")
                        || (a.is("Identifier") && a.name() == "this")
                }) {
                    return true;
                }
                callers += 1;
                all &= argument.and_then(|a| a.referenced()).is_some_and(|passed| {
                    authorizes(program, caller_body, passed, 0) || permitted(caller_body, passed)
                });
            }
            true
        });
    }
    callers > 0 && all
}

/// Whether `node` is a parameter of an open entry function, or part of one (`calls[i].target`).
fn in_parameter(open_parameters: &HashSet<i64>, node: Node<'_>) -> bool {
    matches!(node.kind(), "Identifier" | "IndexAccess" | "MemberAccess")
        && written_variable(node).is_some_and(|id| open_parameters.contains(&id))
}

/// Whether `type_string` is that of call data or a selector: `bytes`, `bytes4`, `string`.
fn is_code_type(type_string: &str) -> bool {
    type_string == "bytes4"
        || type_string.starts_with("bytes ")
        || type_string == "bytes"
        || type_string.starts_with("string")
}

pub fn detect<'a>(program: &Program<'a>) -> Vec<Finding> {
    let open = |f: &Function<'_>| f.is_entry() && !super::access_control::protected(program, *f, 0);
    // What the caller chooses: parameters of functions anyone can call, as this call computes
    // with them (the account an earlier call stored is left to that call's checks).
    let open_parameters: HashSet<i64> = program
        .functions()
        .filter(|(_, f)| open(f))
        .flat_map(|(_, f)| f.parameters().filter_map(|p| p.id()).collect::<Vec<_>>())
        .collect();
    let chosen_source = |node: Node<'_>| {
        node.is("Identifier")
            && node
                .referenced()
                .is_some_and(|id| open_parameters.contains(&id))
    };
    let chosen = Taint::with_flow(program, &chosen_source, Flow::CallValue);
    // Call data or a selector the caller chooses: which function the call runs.
    let code_source = |node: Node<'_>| {
        (is_code_type(node.type_string()) && in_parameter(&open_parameters, node))
            || node.is_global_member("msg", "data")
    };
    let code = Taint::with_flow(program, &code_source, Flow::CallValue);
    // `to`, or `calls[i].target` of a parameter (the taint follows what is written to a member,
    // and nothing is written to a parameter's).
    let caller_chooses = |node: Node<'a>| {
        !chosen.labels(node).is_empty() || in_parameter(&open_parameters, unconverted(node))
    };
    let mut findings = Vec::new();
    for (contract, function) in program.functions() {
        // A library's helper (`SafeERC20.safeTransferFrom`) is reported where it is called: that
        // call is itself a token pull.
        if function.is_modifier()
            || contract.kind() == "library"
            || (function.is_entry() && !open(&function))
        {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        let mut at_stake = None;
        body.walk(&mut |node, _| {
            if !node.is("FunctionCall") {
                return true;
            }
            if let Some(arguments) = token_call(node, &TOKEN_PULLS)
                && let Some(from) = arguments.first().copied()
                && !program.is_sender(unconverted(from))
                && caller_chooses(from)
                && !authorized(program, function, from)
            {
                findings.extend(program.finding(
                    &ARBITRARY_TRANSFER_FROM,
                    node,
                    &contract,
                    Some(&function),
                    format!(
                        "{} takes tokens from `{}`, an account the caller names: anyone can move \
                         the tokens of every account that approved this contract",
                        function.display_name(),
                        program.text(from)
                    ),
                ));
            }
            if let Some((target, "call")) = address_member_call(node)
                && caller_chooses(target)
                && node
                    .children("arguments")
                    .next()
                    .is_some_and(|data| !code.labels(data).is_empty())
            {
                let (pulls, moves) =
                    *at_stake.get_or_insert_with(|| token_use(program, &contract));
                let loss = if pulls {
                    "the caller can make it spend every approval given to it (`token.transferFrom(victim, caller, amount)`)"
                } else if moves {
                    "the caller can make it give away the tokens it holds (`token.transfer(caller, balance)`)"
                } else {
                    return true;
                };
                findings.extend(program.finding(
                    &ARBITRARY_CALL,
                    node,
                    &contract,
                    Some(&function),
                    format!(
                        "{} calls a target with data the caller chooses, as this contract: {loss}",
                        function.display_name()
                    ),
                ));
            }
            true
        });
    }
    findings
}
