//! Authority variables and who may write them: the state some condition compares with the
//! caller (`owner`, `admins[msg.sender]`), and whether an open function's write to one is an
//! authority change or something else — the caller claiming an empty entry of their own, weight
//! bought with ether, an entry keyed by the caller.

use super::protection::{is_caller, protected};
use crate::{
    ast::{Function, Node, is_zero_literal, unconverted},
    program::{Memo, Program},
    taint::{Taint, written_place, written_variable},
};
use std::collections::{HashMap, HashSet};

/// State variables some condition compares with the caller: `owner` in `msg.sender == owner`,
/// `admins` in `require(admins[msg.sender])`.
pub(in crate::detectors) fn authority_variables(program: &Program<'_>) -> Authority {
    let mut found = Authority::new();
    let add = |found: &mut Authority, place: Option<(i64, Option<&str>)>| {
        if let Some((id, member)) = place {
            found
                .entry(id)
                .or_default()
                .insert(member.map(str::to_owned));
        }
    };
    for (_, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            if node.is("BinaryOperation") && matches!(node.str("operator"), Some("==" | "!=")) {
                let sides: Vec<Node<'_>> = ["leftExpression", "rightExpression"]
                    .iter()
                    .filter_map(|s| node.child(s))
                    .collect();
                if sides.iter().any(|s| is_caller(program, *s)) {
                    for side in sides.iter().filter(|s| !is_caller(program, **s)) {
                        add(&mut found, written_place(*side));
                    }
                }
            }
            if node.is("IndexAccess")
                && node
                    .child("indexExpression")
                    .is_some_and(|n| is_caller(program, n))
                && node.type_string() == "bool"
            {
                add(&mut found, written_place(node));
            }
            true
        });
    }
    for id in modifier_lookups(program) {
        found.entry(id).or_default().insert(None);
    }
    found.retain(|id, _| program.is_state_variable(*id));
    found
}

/// State variables that authorize callers, each with the members that do (`None`: the whole
/// value): `_proposals[id].proposer` compared with the caller makes `proposer` authority, not
/// `_proposals[id].executed`.
pub(in crate::detectors) type Authority = HashMap<i64, HashSet<Option<String>>>;

/// Whether writing `target` writes authority: a variable of `authority`, at a member that
/// authorizes (or the whole value, or a member of a variable authorizing as a whole).
pub(in crate::detectors) fn writes_authority_place(
    authority: &Authority,
    target: Node<'_>,
) -> Option<i64> {
    let (id, member) = written_place(target)?;
    let members = authority.get(&id)?;
    let authorizes =
        members.contains(&None) || member.is_none() || members.contains(&member.map(str::to_owned));
    authorizes.then_some(id)
}

/// State mappings a modifier looks the caller up in — directly, or in a function it calls (with
/// the caller as an argument, or reading `msg.sender` itself): `m_ownerIndex[uint(msg.sender)]`
/// behind `onlyowner` → `isOwner(msg.sender)`. Modifiers are where authorization is written, so
/// a caller-keyed entry read there is a list of who may pass.
pub(super) fn modifier_lookups(program: &Program<'_>) -> HashSet<i64> {
    let mut found = HashSet::new();
    // A caller-keyed lookup in `body`; `keys` are the parameters holding the caller.
    let lookups = |body: Node<'_>, keys: &HashSet<i64>, found: &mut HashSet<i64>| {
        body.walk(&mut |node, _| {
            if node.is("IndexAccess")
                && let Some(index) = node.child("indexExpression").map(unconverted)
                && (is_caller(program, index)
                    || (index.is("Identifier")
                        && index.referenced().is_some_and(|id| keys.contains(&id))))
            {
                found.extend(node.child("baseExpression").and_then(written_variable));
            }
            true
        });
    };
    for (_, modifier) in program.functions() {
        if !modifier.is_modifier() {
            continue;
        }
        let Some(body) = modifier.body() else {
            continue;
        };
        lookups(body, &HashSet::new(), &mut found);
        // Functions it calls, one level down, with the parameters given the caller.
        body.walk(&mut |node, _| {
            if node.is("FunctionCall")
                && let Some(callee) = program.called_function(node)
                && let Some(callee_body) = callee.body()
            {
                let keys: HashSet<i64> = callee
                    .parameters()
                    .zip(node.children("arguments"))
                    .filter(|(_, argument)| is_caller(program, unconverted(*argument)))
                    .filter_map(|(parameter, _)| parameter.id())
                    .collect();
                lookups(callee_body, &keys, &mut found);
            }
            true
        });
    }
    found
}

/// The first authority variable `function` writes, itself or through the functions it calls
/// (two levels: an initializer that delegates to `initOwners`).
pub(super) fn writes_authority<'a>(
    program: &Program<'a>,
    taint: &Taint<'_, 'a>,
    function: Function<'a>,
    authority: &Authority,
    known: &Memo<(i64, usize), Option<i64>>,
    depth: usize,
) -> Option<i64> {
    let id = function.node().id()?;
    known.get_or((id, depth), || {
        let body = function.body()?;
        let mut written = None;
        body.walk(&mut |node, _| {
            // Code no reachable state lets run writes nothing.
            if written.is_some() || !program.reachable(node) {
                return false;
            }
            if node.is("Assignment")
                && let Some(target) = node.child("leftHandSide")
                && let Some(id) = writes_authority_place(authority, target)
                && !own_entry(program, target)
                && !joins_as_caller(program, taint, node)
                && !claims_empty_entry(program, body, node)
                && !paid_for(program, node)
            {
                written = Some(id);
            } else if depth < 2
                && node.is("FunctionCall")
                && node.child("expression").is_some_and(|c| c.is("Identifier"))
                && let Some(callee) = program.called_function(node)
                && !protected(program, callee, 0)
            {
                written = writes_authority(program, taint, callee, authority, known, depth + 1);
            }
            written.is_none()
        });
        written
    })
}

/// Whether `assignment` gives the caller an entry of a mapping, at keys none of which is fixed,
/// after the function required that entry empty: a registry's first-come claim (`require(names[n]
/// == address(0)); names[n] = msg.sender;`, `if (assets[id].owner != address(0)) revert();
/// assets[id] = Asset(msg.sender, …)`). It takes nothing anyone held. A whole variable claimed
/// while empty (`require(owner == address(0)); owner = a;`) is an open initializer, and an entry
/// at a fixed index a seat of authority: both stay reported.
pub(super) fn claims_empty_entry(
    program: &Program<'_>,
    body: Node<'_>,
    assignment: Node<'_>,
) -> bool {
    let (Some(target), Some(value)) = (
        assignment.child("leftHandSide"),
        assignment.child("rightHandSide"),
    ) else {
        return false;
    };
    // The entry: the outermost index access of the place (`assets[id]` of `assets[id].owner`).
    let mut entry = None;
    let mut node = target;
    loop {
        match node.kind() {
            "IndexAccess" => {
                if node
                    .child("indexExpression")
                    .is_none_or(|k| unconverted(k).is("Literal"))
                {
                    return false;
                }
                entry = entry.or(Some(node));
                let Some(base) = node.child("baseExpression") else {
                    return false;
                };
                node = base;
            }
            "MemberAccess" => {
                let Some(base) = node.child("expression") else {
                    return false;
                };
                node = base;
            }
            _ => break,
        }
    }
    let Some(entry) = entry else {
        return false;
    };
    if !value.any(&mut |n| is_caller(program, n)) {
        return false;
    }
    let prefix = program.text(entry);
    let before = assignment.span().map_or(0, |s| s.start);
    let is_zero = |n: Node<'_>| is_zero_literal(unconverted(n));
    let names_entry = |n: Node<'_>| program.text(unconverted(n)).starts_with(&prefix);
    // `x == 0` (required) or `x != 0` (reverted on), with `x` in the entry; `!x.exists` required.
    let empty_test = |condition: Node<'_>, required: bool| {
        condition.any(&mut |n| {
            let compared = n.is("BinaryOperation")
                && n.str("operator") == Some(if required { "==" } else { "!=" })
                && match (n.child("leftExpression"), n.child("rightExpression")) {
                    (Some(l), Some(r)) => {
                        (is_zero(l) && names_entry(r)) || (is_zero(r) && names_entry(l))
                    }
                    _ => false,
                };
            let negated = required
                && n.is("UnaryOperation")
                && n.str("operator") == Some("!")
                && n.child("subExpression").is_some_and(names_entry);
            compared || negated
        })
    };
    body.any(&mut |n| {
        if n.span().is_none_or(|s| s.start >= before) {
            return false;
        }
        match n.kind() {
            "FunctionCall" => {
                n.child("expression").is_some_and(|c| {
                    program.is_global(c, "require") || program.is_global(c, "assert")
                }) && n
                    .children("arguments")
                    .next()
                    .is_some_and(|c| empty_test(c, true))
            }
            "IfStatement" => {
                n.child("condition").is_some_and(|c| empty_test(c, false))
                    && n.child("trueBody")
                        .is_some_and(|t| t.any(&mut |r| program.reverts(r)))
            }
            _ => false,
        }
    })
}

/// Whether `assignment` adds what the call paid to an amount (`balances[holder] += msg.value`,
/// `shares[a] = shares[a] + msg.value * rate`): a purchase, whoever it is for, as a token sale
/// sells voting weight. The weight is bought at the contract's price, not taken.
pub(super) fn paid_for(program: &Program<'_>, assignment: Node<'_>) -> bool {
    let (Some(target), Some(value)) = (
        assignment.child("leftHandSide"),
        assignment.child("rightHandSide"),
    ) else {
        return false;
    };
    let pays = |n: Node<'_>| n.any(&mut |m| m.is_global_member("msg", "value"));
    match assignment.str("operator") {
        Some("+=") => pays(value),
        Some("=") => {
            value.is("BinaryOperation")
                && value.str("operator") == Some("+")
                && value
                    .child("leftExpression")
                    .is_some_and(|l| program.text(l) == program.text(target))
                && value.child("rightExpression").is_some_and(pays)
        }
        _ => false,
    }
}

/// Whether `assignment` adds the caller as a new entry of a list anyone joins: the value holds
/// `msg.sender` and the entry's index is the contract's own choice — neither fixed (`m_owners[1]`
/// is a seat of authority) nor the caller's (`owners[_owner] = …` picks whose seat). A ticket
/// (`contestants[next++] = Contestant(msg.sender, round)`) makes the caller one of many
/// participants, which is what the open function is for. A flag is the authority itself.
pub(super) fn joins_as_caller<'a>(
    program: &Program<'a>,
    taint: &Taint<'_, 'a>,
    assignment: Node<'a>,
) -> bool {
    let (Some(target), Some(value)) = (
        assignment.child("leftHandSide"),
        assignment.child("rightHandSide"),
    ) else {
        return false;
    };
    nearest_key(target).is_some_and(|key| {
        !unconverted(key).is("Literal")
            && !is_caller(program, unconverted(key))
            && taint.labels(key).is_empty()
    }) && value.any(&mut |n| is_caller(program, n))
        && target.type_string() != "bool"
}

/// Whether `target` is the caller's own entry and not a flag (`balances[msg.sender]`,
/// `index[uint(msg.sender)]`): writing it gives no one else's authority away. A flag
/// (`admins[msg.sender] = true`) is the authority itself.
pub(super) fn own_entry(program: &Program<'_>, target: Node<'_>) -> bool {
    // A flag in the caller's own row of a nested mapping (`approved[msg.sender][operator] =
    // true`) is the caller delegating what is theirs; a flag keyed by the caller alone
    // (`admins[msg.sender] = true`) is authority over everything.
    nearest_key(target).is_some_and(|key| is_caller(program, unconverted(key)))
        && (target.type_string() != "bool" || keys(target) > 1)
}

/// How many keys a place expression indexes with: 2 in `m[a][b]`, 1 in `m[a].f`.
pub(super) fn keys(target: Node<'_>) -> usize {
    let mut node = target;
    let mut count = 0;
    loop {
        node = match node.kind() {
            "IndexAccess" => {
                count += 1;
                match node.child("baseExpression") {
                    Some(base) => base,
                    None => return count,
                }
            }
            "MemberAccess" => match node.child("expression") {
                Some(base) => base,
                None => return count,
            },
            _ => return count,
        };
    }
}

/// The key of the entry a place expression names nearest its variable: `k` in `m[k].f[i]`.
pub(super) fn nearest_key(target: Node<'_>) -> Option<Node<'_>> {
    let mut node = target;
    let mut nearest = None;
    loop {
        let base = match node.kind() {
            "IndexAccess" => {
                nearest = node.child("indexExpression");
                node.child("baseExpression")?
            }
            "MemberAccess" => node.child("expression")?,
            _ => return nearest,
        };
        node = base;
    }
}
