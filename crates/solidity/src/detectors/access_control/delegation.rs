//! `delegatecall` targets: which code a contract runs in its own storage, and whether the caller
//! chooses it or the contract (or its owner) vouches for it — the distinction between a proxy
//! and `controlled-delegatecall`.

use super::{
    protection::{admin_only, owner_only},
    set_variable,
};
use crate::{
    ast::{Function, FunctionKind, Node, arguments_for, unconverted, use_site},
    program::Program,
    taint::written_variable,
};
use std::collections::{HashMap, HashSet};

/// Whether the `delegatecall` target `address` in `function` is code the contract or its owner
/// vouches for: this contract itself (`this` / `address(this)`: running its own functions with
/// the caller's data gives the caller nothing they could not call directly, as in OpenZeppelin's
/// `Multicall`), an implementation only its owner sets (`chosen`: an upgradeable proxy's, whose
/// purpose is to run the caller's data on it), a parameter of an owner-only function or of the
/// constructor, or a parameter of an internal function every call of which passes one of these
/// (`Address.functionDelegateCall(address(this), data)`, Compound's `delegateTo(implementation,
/// data)`).
pub(super) fn vouched_delegate(
    program: &Program<'_>,
    function: Function<'_>,
    address: Node<'_>,
    chosen: &HashSet<i64>,
    depth: usize,
) -> bool {
    let address = unconverted(address);
    if program.is_global(address, "this") {
        return true;
    }
    let Some(referenced) = address.referenced() else {
        return false;
    };
    if chosen.contains(&referenced) {
        return true;
    }
    let Some(position) = function
        .parameters()
        .position(|p| p.id() == Some(referenced))
    else {
        return false;
    };
    if function.kind() == FunctionKind::Constructor {
        return true;
    }
    // What an owner-only function is given is the owner's choice.
    if function.is_entry() {
        return owner_only(program, function) || admin_only(program, function);
    }
    if depth >= 4 {
        return false;
    }
    let Some(id) = function.node().id() else {
        return false;
    };
    let mut calls = 0;
    let mut all_vouched = true;
    for (_, caller) in program.functions() {
        let Some(body) = caller.body() else { continue };
        body.walk(&mut |node, _| {
            if all_vouched
                && node.is("FunctionCall")
                && program
                    .called_function(node)
                    .is_some_and(|f| f.node().id() == Some(id))
            {
                calls += 1;
                all_vouched &= arguments_for(node, function)
                    .get(position)
                    .is_some_and(|a| vouched_delegate(program, caller, *a, chosen, depth + 1));
            }
            true
        });
    }
    calls > 0 && all_vouched
}

/// State variables only owner- or admin-only functions set ([`owner_settings`]): no other
/// function of the contract's interface writes them.
pub(super) fn owner_chosen(program: &Program<'_>, settings: &HashMap<i64, String>) -> HashSet<i64> {
    let mut openly_set = HashSet::new();
    for (_, function) in program.functions() {
        if !function.is_entry()
            || function.kind() != FunctionKind::Function
            || owner_only(program, function)
            || admin_only(program, function)
        {
            continue;
        }
        if let Some(body) = function.body() {
            body.walk(&mut |node, _| {
                openly_set.extend(set_variable(program, node));
                true
            });
        }
    }
    settings
        .keys()
        .filter(|id| !openly_set.contains(*id))
        .copied()
        .collect()
}

/// Whether `call` succeeding reverts the transaction — `require(!a.delegatecall(d))`, `if
/// (a.delegatecall(d)) revert();`, or a revert after it whatever it returned (`revert
/// DelegateAndRevert(success, ret)`, ERC-4337's EntryPoint) — so nothing the called code wrote
/// can persist: it either failed (its writes undone) or succeeded and the revert undoes them.
/// Proxies and simulations use the pattern to run code for its return data alone.
pub(super) fn success_reverts(program: &Program<'_>, call: Node<'_>, path: &[Node<'_>]) -> bool {
    if reverted_after(program, call, path) {
        return true;
    }
    let Some((parent, value, mut ancestors)) = use_site(call, path, |_, _| false) else {
        return false;
    };
    let is_value =
        |n: Option<Node<'_>>| n.is_some_and(|n| n.id().is_some() && n.id() == value.id());
    match parent.kind() {
        "UnaryOperation" if parent.str("operator") == Some("!") => {
            let negated = parent;
            let check = ancestors.find(|p| unconverted(**p).id() != unconverted(negated).id());
            check.is_some_and(|check| {
                check.is("FunctionCall")
                    && check.child("expression").is_some_and(|c| {
                        program.is_global(c, "require") || program.is_global(c, "assert")
                    })
                    && check
                        .children("arguments")
                        .next()
                        .is_some_and(|first| unconverted(first).id() == unconverted(negated).id())
            })
        }
        "IfStatement" if is_value(parent.child("condition")) => {
            parent.child("trueBody").is_some_and(|then| {
                let first = if then.is("Block") {
                    then.children("statements").next()
                } else {
                    Some(then)
                };
                first.is_some_and(|statement| program.reverts(statement))
            })
        }
        _ => false,
    }
}

/// State variables whose address a `delegatecall` runs the code of — `implementation` in
/// `implementation.delegatecall(msg.data)` or a proxy's `delegatecall(gas(), impl, …)` in
/// assembly with `address impl = implementation;` (also `callcode`). Whoever writes one decides
/// what code runs on this contract's storage: it is authority as much as an owner is.
pub(in crate::detectors) fn delegate_targets(program: &Program<'_>) -> HashSet<i64> {
    let mut found = HashSet::new();
    for (_, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        // The state variable a local holds (`address impl = implementation;`, or assigned later).
        let mut held: HashMap<i64, i64> = HashMap::new();
        let state = |value: Node<'_>| {
            written_variable(unconverted(value)).filter(|id| program.is_state_variable(*id))
        };
        body.walk(&mut |node, _| {
            match node.kind() {
                "VariableDeclarationStatement" => {
                    if let (Some(value), [declaration]) = (
                        node.child("initialValue"),
                        &node.children("declarations").collect::<Vec<_>>()[..],
                    ) && let (Some(local), Some(variable)) = (declaration.id(), state(value))
                    {
                        held.insert(local, variable);
                    }
                }
                "Assignment" if node.str("operator") == Some("=") => {
                    if let Some(local) = node
                        .child("leftHandSide")
                        .and_then(|l| l.is("Identifier").then(|| l.referenced()).flatten())
                        && let Some(variable) = node.child("rightHandSide").and_then(state)
                    {
                        held.insert(local, variable);
                    }
                }
                _ => {}
            }
            true
        });
        let target = |id: i64| {
            if program.is_state_variable(id) {
                Some(id)
            } else {
                held.get(&id).copied()
            }
        };
        body.walk(&mut |node, path| {
            if node.is("MemberAccess")
                && matches!(node.name_of_member(), "delegatecall" | "callcode")
                && let Some(base) = node.child("expression").map(unconverted)
            {
                let id = if base.is("Identifier") {
                    base.referenced().and_then(target)
                } else {
                    state(base)
                };
                found.extend(id);
            }
            if node.is("YulFunctionCall")
                && node
                    .child("functionName")
                    .is_some_and(|n| matches!(n.name(), "delegatecall" | "callcode"))
                && let Some(address) = node.children("arguments").nth(1)
                && address.is("YulIdentifier")
                && let Some(assembly) = path.iter().rev().find(|p| p.is("InlineAssembly"))
            {
                // A Yul name that is a Solidity variable: the assembly block lists it, by place.
                let declared = address
                    .str("src")
                    .and_then(|place| assembly.assembly_reference(place));
                found.extend(declared.and_then(target));
            }
            true
        });
    }
    found
}

/// Whether a statement after the one holding `call`, in the same block, reverts, with nothing
/// between that could leave first (a `return`, `break` or `continue`, a branch or loop, `try`,
/// inline assembly).
fn reverted_after(program: &Program<'_>, call: Node<'_>, path: &[Node<'_>]) -> bool {
    let ancestry: Vec<Node<'_>> = path.iter().copied().chain(std::iter::once(call)).collect();
    let Some(at) = ancestry
        .iter()
        .rposition(|n| n.is("Block") || n.is("UncheckedBlock"))
    else {
        return false;
    };
    let (block, Some(statement)) = (ancestry[at], ancestry.get(at + 1)) else {
        return false;
    };
    for next in block
        .children("statements")
        .skip_while(|s| s.id() != statement.id())
        .skip(1)
    {
        if program.reverts(next) {
            return true;
        }
        let may_leave = next.any(&mut |n| {
            matches!(
                n.kind(),
                "Return"
                    | "Break"
                    | "Continue"
                    | "IfStatement"
                    | "ForStatement"
                    | "WhileStatement"
                    | "DoWhileStatement"
                    | "TryStatement"
                    | "InlineAssembly"
            )
        });
        if may_leave {
            return false;
        }
    }
    false
}
