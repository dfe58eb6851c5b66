//! What owner-only functions do, and open functions that do the same (`unprotected-owner-action`):
//! an internal call or a state update that only checked functions make elsewhere.

use super::protection::{admin_only, is_caller, owner_only, protected};
use crate::{
    ast::{Function, FunctionKind, Node, address_member_call},
    program::Program,
    taint::written_variable,
};
use std::collections::{HashMap, HashSet};

/// What functions that check their caller (an owner's, through any modifier or helper: OpenZeppelin's
/// `onlyOwner` → `_checkOwner()`) do that an open function might do too: the internal functions
/// they call (that may change state) and the state they add to or take from (`totalSupply +=
/// amount`), each with the first such function.
pub(super) struct OwnerActions {
    calls: HashMap<i64, String>,
    updates: HashMap<i64, String>,
}

pub(super) fn owner_actions(program: &Program<'_>) -> OwnerActions {
    let mut actions = OwnerActions {
        calls: HashMap::new(),
        updates: HashMap::new(),
    };
    for (_, function) in program.functions() {
        if !function.is_entry()
            || function.kind() != FunctionKind::Function
            || !privileged(program, function)
        {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            if let Some(callee) = acting_internal_call(program, node) {
                actions
                    .calls
                    .entry(callee)
                    .or_insert_with(|| function.display_name());
            }
            if let Some(id) = compound_update(program, node) {
                actions
                    .updates
                    .entry(id)
                    .or_insert_with(|| function.display_name());
            }
            true
        });
    }
    actions
}

/// Whether only privileged callers may call `function`: it compares the caller with a stored or
/// fixed account or looks it up in a list of flags ([`owner_only`], [`admin_only`]), or one of
/// its modifiers checks the caller, directly or through what it calls (OpenZeppelin's
/// `onlyOwner` → `_checkOwner()`, `onlyRole(r)` → `_checkRole(r)`). A function that checks the
/// caller's own entries inline (`require(balances[msg.sender] >= v)`, `from == msg.sender`) is
/// not: it acts for whoever calls.
pub(super) fn privileged(program: &Program<'_>, function: Function<'_>) -> bool {
    owner_only(program, function)
        || admin_only(program, function)
        || program
            .modifiers(function)
            .iter()
            .any(|m| protected(program, *m, 1))
}

/// Whether `body` verifies a signature: calls `ecrecover`, or a function of the program that
/// does (three calls deep: `ECDSA.recover` → `tryRecover` → `ecrecover`).
pub(super) fn verifies_signature(program: &Program<'_>, body: Node<'_>, depth: usize) -> bool {
    body.any(&mut |n| {
        n.is("FunctionCall")
            && (n
                .child("expression")
                .is_some_and(|c| program.is_global(c, "ecrecover"))
                || (depth < 3
                    && program.called_function(n).is_some_and(|callee| {
                        callee
                            .body()
                            .is_some_and(|b| verifies_signature(program, b, depth + 1))
                    })))
    })
}

/// The internal function `node` calls, if it is a call of one of the program's functions that
/// may change state (not `view`/`pure`) by name (`_mint(to, amount)`). Not a helper that
/// forwards its data to other code by `delegatecall` (a proxy's `delegateTo(impl, data)`): what
/// it does is whatever the data names, which that code's own checks govern.
pub(super) fn acting_internal_call(program: &Program<'_>, node: Node<'_>) -> Option<i64> {
    if !node.is("FunctionCall") || !node.child("expression").is_some_and(|c| c.is("Identifier")) {
        return None;
    }
    let callee = program.called_function(node)?;
    let forwards = |body: Node<'_>| {
        body.any(&mut |n| {
            n.is("FunctionCall")
                && address_member_call(n).is_some_and(|(_, member)| member == "delegatecall")
        })
    };
    (!callee.is_view()
        && matches!(callee.visibility(), "internal" | "private")
        && !callee.body().is_some_and(forwards))
    .then(|| callee.node().id())
    .flatten()
}

/// The state variable `node` adds to or takes from (`x += v`, `m[k] -= v`), if it does.
pub(super) fn compound_update(program: &Program<'_>, node: Node<'_>) -> Option<i64> {
    if !node.is("Assignment") || !matches!(node.str("operator"), Some("+=" | "-=")) {
        return None;
    }
    node.child("leftHandSide")
        .and_then(written_variable)
        .filter(|id| program.is_state_variable(*id))
}

/// An open function (no check of its caller) that does what an owner-only one does: calls the
/// same internal function with one of its own parameters, or adds a parameter to the same
/// state. Only where the function never reads who is calling and takes no ether: one that acts
/// on the caller's own entries (`_transfer(msg.sender, to, v)`) or sells what it gives
/// (`msg.value`) is not the owner's action.
pub(super) fn unprotected_owner_action<'a>(
    program: &Program<'a>,
    function: Function<'a>,
    body: Node<'a>,
    actions: &OwnerActions,
) -> Option<(Node<'a>, String)> {
    if function.kind() != FunctionKind::Function || function.mutability() == "payable" {
        return None;
    }
    let parameters: HashSet<i64> = function.parameters().filter_map(|p| p.id()).collect();
    if parameters.is_empty() {
        return None;
    }
    let reads_caller =
        |b: Node<'_>| b.any(&mut |n| is_caller(program, n) || n.is_global_member("msg", "value"));
    // A modifier of any kind (`initializer`, `whenNotPaused`, one reading the caller) is a guard
    // the function was given on purpose, and a signature it verifies (`ECDSA.recover(digest,
    // sig) == from`) one of its own: neither is the owner's check forgotten.
    let guarded = !program.modifiers(function).is_empty();
    if reads_caller(body) || guarded || verifies_signature(program, body, 0) {
        return None;
    }
    let uses_parameter = |n: Node<'_>| {
        n.any(&mut |x| {
            x.is("Identifier") && x.referenced().is_some_and(|id| parameters.contains(&id))
        })
    };
    let mut found = None;
    body.walk(&mut |node, _| {
        if found.is_some() || !program.reachable(node) {
            return false;
        }
        // What the function does, to which declaration, and the owner's function doing it.
        let action = if let Some(callee) = acting_internal_call(program, node)
            && let Some(owner) = actions.calls.get(&callee)
            && node.children("arguments").any(&uses_parameter)
        {
            Some(("calls", callee, "with values the caller names", owner))
        } else if let Some(id) = compound_update(program, node)
            && let Some(owner) = actions.updates.get(&id)
            && node.child("rightHandSide").is_some_and(uses_parameter)
        {
            Some(("changes", id, "by an amount the caller names", owner))
        } else {
            None
        };
        if let Some((verb, id, how, owner)) = action {
            let name = program
                .declaration(id)
                .map(|d| d.name())
                .unwrap_or_default();
            found = Some((
                function.node(),
                format!(
                    "{} {verb} `{name}` {how}, as {owner} does only for its owner, and anyone can call it",
                    function.display_name()
                ),
            ));
        }
        found.is_none()
    });
    found
}
