//! Whether a function checks its caller: comparisons and lookups of `msg.sender` (or
//! `tx.origin`) in its body, its modifiers and the internal functions it calls; and the narrower
//! questions other detectors ask — only an owner (one stored account) or an admin may call it.

use crate::{
    ast::{
        Function, Node, TOKEN_HOLDINGS, TOKEN_PULLS, address_member_call, arguments_for,
        is_zero_literal, token_call, unconverted,
    },
    program::Program,
};
use std::collections::HashSet;

/// Whether `node` reads the caller (`msg.sender`, `tx.origin`).
/// `msg.sender`, `tx.origin`, or a call that returns the sender (`_msgSender()`).
pub(super) fn is_caller(program: &Program<'_>, node: Node<'_>) -> bool {
    program.is_sender(node) || node.is_global_member("tx", "origin")
}

/// Whether `body` compares the caller or looks it up in a condition — directly, or through a
/// local it stored the lookup in (`uint index = ownerIndex[uint(msg.sender)]; if (index == 0)
/// return;`). `callers` are parameters the caller was passed into (`_checkRole(role,
/// _msgSender())` checking `hasRole(role, account)`).
pub(super) fn checks_caller(program: &Program<'_>, body: Node<'_>, callers: &HashSet<i64>) -> bool {
    let mut from_caller: HashSet<i64> = callers.clone();
    body.walk(&mut |node, _| {
        if node.is("VariableDeclarationStatement")
            && node
                .child("initialValue")
                .is_some_and(|v| v.any(&mut |n| is_caller(program, n)))
        {
            from_caller.extend(node.children("declarations").filter_map(|d| d.id()));
        }
        true
    });
    let mut names_caller = |node: Node<'_>| {
        is_caller(program, node)
            || (node.is("Identifier")
                && node
                    .referenced()
                    .is_some_and(|id| from_caller.contains(&id)))
    };
    body.any(&mut |node| {
        let condition = match node.kind() {
            "BinaryOperation" => matches!(node.str("operator"), Some("==" | "!=")),
            "IfStatement" => {
                return node
                    .child("condition")
                    .is_some_and(|c| asks_about(program, c, &mut names_caller, true));
            }
            "FunctionCall" => node
                .child("expression")
                .is_some_and(|c| program.is_global(c, "require") || program.is_global(c, "assert")),
            _ => false,
        };
        condition && asks_about(program, node, &mut names_caller, true)
    })
}

/// Whether condition `node` asks about what `names` picks: names it other than as the payee of a
/// payment or token transfer in it, or as an argument of a call that acts ([`Program::acts`]).
/// `require(msg.sender.send(v))`, `require(token.transferFrom(from, …))` and `if (!_pay(
/// msg.sender, v)) revert();` check a payment's result and nothing about its parties (a function
/// given them is asked on its own whether it checks them). Unless `zero_asks`, a comparison with
/// zero (`from != address(0)`) does not count either.
pub(crate) fn asks_about(
    program: &Program<'_>,
    node: Node<'_>,
    names: &mut dyn FnMut(Node<'_>) -> bool,
    zero_asks: bool,
) -> bool {
    let pays = node.is("FunctionCall")
        && (address_member_call(node)
            .is_some_and(|(_, member)| matches!(member, "transfer" | "send" | "call"))
            || token_call(node, &TOKEN_PULLS).is_some()
            || token_call(node, &TOKEN_HOLDINGS).is_some()
            || program.acts(node));
    if pays {
        return false;
    }
    if !zero_asks
        && node.is("BinaryOperation")
        && matches!(node.str("operator"), Some("==" | "!="))
        && let (Some(l), Some(r)) = (node.child("leftExpression"), node.child("rightExpression"))
        && let (l, r) = (unconverted(l), unconverted(r))
        && ((is_zero_literal(r) && names(l)) || (is_zero_literal(l) && names(r)))
    {
        return false;
    }
    names(node)
        || node
            .subnodes()
            .into_iter()
            .any(|child| asks_about(program, child, names, zero_asks))
}

/// Whether only one fixed account may call `function`: it or one of its modifiers requires the
/// caller to be an address a state variable holds or the code names (`require(msg.sender ==
/// owner)`, `if (msg.sender != admin) throw;`, `msg.sender == 0x…`). Narrower than
/// [`owner_only`]: a mapping of flags may be the caller's own registration (`require(!joined[
/// msg.sender])`), and a comparison that lets everyone else through (`require(msg.sender !=
/// owner)`) protects nothing.
pub(crate) fn admin_only(program: &Program<'_>, function: Function<'_>) -> bool {
    // `caller <operator> account`, either way round. The contract itself is such an account
    // (`require(msg.sender == address(this))`: only its own code, a multisig's executed
    // transaction, calls).
    let compares = |node: Node<'_>, operator: &str, callers: &HashSet<i64>| {
        let node = unconverted(node);
        let caller = |n: Node<'_>| names_caller(program, n, callers);
        node.is("BinaryOperation")
            && node.str("operator") == Some(operator)
            && match (node.child("leftExpression"), node.child("rightExpression")) {
                (Some(l), Some(r)) => {
                    let account = |n: Node<'_>| {
                        stored_account(program, n)
                            || unconverted(n).is("Literal")
                            || program.is_global(unconverted(n), "this")
                    };
                    (caller(l) && account(r)) || (caller(r) && account(l))
                }
                _ => false,
            }
    };
    let checks = |body: Node<'_>, callers: &HashSet<i64>| {
        body.any(&mut |node| {
            // `require(msg.sender == owner)`, or `if (msg.sender != owner) revert();`.
            program
                .enforced_condition(node)
                .is_some_and(|(condition, holds)| {
                    compares(condition, if holds { "==" } else { "!=" }, callers)
                })
        })
    };
    function.body().is_some_and(|b| checks(b, &HashSet::new()))
        || program
            .modifier_invocations(function)
            .into_iter()
            .any(|(invocation, modifier)| {
                let callers = caller_parameters(program, invocation, modifier);
                modifier.body().is_some_and(|b| checks(b, &callers))
            })
}

/// Whether `function` checks its caller: itself, its modifiers, or what it calls.
pub(crate) fn protected(program: &Program<'_>, function: Function<'_>, depth: usize) -> bool {
    match function.node().id() {
        Some(id) => program.protected.get_or((id, depth), || {
            reads_protection(program, function, depth, None)
        }),
        None => reads_protection(program, function, depth, None),
    }
}

/// Whether `function` checks its caller other than through the function `hook` (its calls of
/// `hook`, and modifiers that call it, do not count): what it is protected by if `hook`'s
/// override checks nothing.
pub(crate) fn protected_besides(program: &Program<'_>, function: Function<'_>, hook: i64) -> bool {
    reads_protection(program, function, 0, Some(hook))
}

/// [`protected`], worked out; calls of `hook` left out.
pub(super) fn reads_protection(
    program: &Program<'_>,
    function: Function<'_>,
    depth: usize,
    hook: Option<i64>,
) -> bool {
    let is_hook = |call: Node<'_>| {
        hook.is_some() && program.called_function(call).and_then(|f| f.node().id()) == hook
    };
    let calls_hook = |body: Node<'_>| body.any(&mut |n| n.is("FunctionCall") && is_hook(n));
    // A modifier checks the caller itself, or a parameter the invocation passes the caller in
    // (`ownerExists(msg.sender)` requiring `isOwner[owner]`).
    let modifiers =
        program
            .modifier_invocations(function)
            .into_iter()
            .any(|(invocation, modifier)| {
                let callers = caller_parameters(program, invocation, modifier);
                !modifier.body().is_some_and(calls_hook)
                    && (modifier
                        .body()
                        .is_some_and(|b| checks_caller(program, b, &callers))
                        || protected(program, modifier, depth + 1))
            });
    if modifiers {
        return true;
    }
    let Some(body) = function.body() else {
        return false;
    };
    if checks_caller(program, body, &HashSet::new()) {
        return true;
    }
    // Three calls deep: a modifier, its check, and the check it passes the caller to
    // (OpenZeppelin's `onlyRole` → `_checkRole(role)` → `_checkRole(role, _msgSender())`).
    // A virtual function protects only if every override that may run in its place does
    // (an abstract hook such as UUPS's `_authorizeUpgrade` protects through its overrides).
    depth < 3
        && body.any(&mut |node| {
            node.is("FunctionCall")
                && !is_hook(node)
                && program.called_function(node).is_some_and(|callee| {
                    let runs = program.implementations(node, callee);
                    !runs.is_empty()
                        && runs.iter().all(|callee| {
                            protected(program, *callee, depth + 1)
                                || always_reverts(program, *callee)
                                || callee.body().is_some_and(|b| {
                                    let callers = caller_parameters(program, node, *callee);
                                    !callers.is_empty() && checks_caller(program, b, &callers)
                                })
                        })
                })
        })
}

/// Whether `function` lets nobody through: a statement of its body (not inside a branch)
/// reverts (`revert(...)`, `revert Error()`, `throw`).
pub(super) fn always_reverts(program: &Program<'_>, function: Function<'_>) -> bool {
    function.body().is_some_and(|body| {
        body.children("statements")
            .any(|statement| program.reverts(statement))
    })
}

/// The parameters of `callee` that `call` passes the caller in (a library function bound with
/// `using for` takes its receiver first).
pub(super) fn caller_parameters(
    program: &Program<'_>,
    call: Node<'_>,
    callee: Function<'_>,
) -> HashSet<i64> {
    callee
        .parameters()
        .zip(arguments_for(call, callee))
        .filter(|(_, argument)| is_caller(program, unconverted(*argument)))
        .filter_map(|(parameter, _)| parameter.id())
        .collect()
}

/// Whether `node` reads an account the contract stores and the caller does not pick: a state
/// variable, a member of one, or an entry at a fixed index (`requests[0].requester`, the first
/// requester).
pub(super) fn stored_account(program: &Program<'_>, node: Node<'_>) -> bool {
    // Also through a getter (`owner()` returning `_owner`).
    program.returns_only(node, 0, &|n| stored_account_read(program, n))
}

pub(super) fn stored_account_read(program: &Program<'_>, node: Node<'_>) -> bool {
    match node.kind() {
        // The account a contract this one stores names: `IFactory(factory).owner()`.
        "FunctionCall" => {
            node.children("arguments").next().is_none()
                && node.child("expression").is_some_and(|callee| {
                    callee.is("MemberAccess")
                        && callee.type_identifier().starts_with("t_function_external")
                        && callee
                            .child("expression")
                            .is_some_and(|base| stored_account_read(program, unconverted(base)))
                })
        }
        "Identifier" => node
            .referenced()
            .is_some_and(|id| program.is_state_variable(id)),
        "MemberAccess" => node
            .child("expression")
            .is_some_and(|e| stored_account_read(program, e)),
        "IndexAccess" => {
            node.child("indexExpression")
                .is_some_and(|i| i.is("Literal"))
                && node
                    .child("baseExpression")
                    .is_some_and(|b| stored_account_read(program, b))
        }
        _ => false,
    }
}

/// Whether only a privileged account may call `function`: it or one of its modifiers compares
/// the caller with an address a state variable holds (`msg.sender == owner`) or looks the caller
/// up in a state mapping of flags (`require(admins[msg.sender])`). Narrower than [`protected`],
/// which also counts the caller's own entries (`balances[msg.sender] >= v`).
pub(crate) fn owner_only(program: &Program<'_>, function: Function<'_>) -> bool {
    let state = |node: Node<'_>| stored_account(program, node);
    let checks = |body: Node<'_>, callers: &HashSet<i64>| {
        let caller = |n: Node<'_>| names_caller(program, n, callers);
        body.any(&mut |node| {
            if node.is("BinaryOperation") && matches!(node.str("operator"), Some("==" | "!=")) {
                let sides: Vec<Node<'_>> = ["leftExpression", "rightExpression"]
                    .iter()
                    .filter_map(|s| node.child(s))
                    .collect();
                return sides.iter().any(|s| caller(*s)) && sides.iter().any(|s| state(*s));
            }
            node.is("IndexAccess")
                && node.type_string() == "bool"
                && node.child("indexExpression").is_some_and(caller)
                && node.child("baseExpression").is_some_and(state)
        })
    };
    function.body().is_some_and(|b| checks(b, &HashSet::new()))
        || program
            .modifier_invocations(function)
            .into_iter()
            .any(|(invocation, modifier)| {
                let callers = caller_parameters(program, invocation, modifier);
                modifier.body().is_some_and(|b| checks(b, &callers))
            })
}

/// Whether `node` is the caller: `msg.sender`, `tx.origin`, or one of `callers` (parameters a
/// modifier or function was passed the caller in).
pub(super) fn names_caller(program: &Program<'_>, node: Node<'_>, callers: &HashSet<i64>) -> bool {
    is_caller(program, node)
        || (node.is("Identifier") && node.referenced().is_some_and(|id| callers.contains(&id)))
}
