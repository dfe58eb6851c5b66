//! Access control: functions anyone can call that should be the owner's. A function "checks
//! its caller" when its body, its modifiers or the internal functions it calls (two levels)
//! compare `msg.sender` (or `tx.origin`) or look it up in a condition. Variables that decide
//! authority are the state variables some check compares with the caller. Reported: entry
//! functions that destroy the contract or write an authority variable without checking the
//! caller (SWC-105, SWC-106), constructors misnamed into public functions (SWC-118), and
//! `delegatecall` to a target or with data the caller chooses (SWC-112).

use crate::{
    Category, Finding, Rule, Severity,
    ast::{
        Function, FunctionKind, Node, TOKEN_HOLDINGS, TOKEN_PULLS, address_member_call,
        arguments_for, callee, is_zero_literal, payment, token_call, unconverted, use_site,
    },
    program::{Memo, Program},
    taint::{Taint, written_place, written_variable},
};
use std::collections::{HashMap, HashSet};

pub const UNPROTECTED_SELFDESTRUCT: Rule = Rule {
    id: "unprotected-selfdestruct",
    title: "Anyone can destroy the contract",
    swc: &["SWC-106"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "A function any account can call runs `selfdestruct`: the contract's code is \
        removed and its ether sent where the caller says (the Parity multisig library, 2017, \
        froze 513,774 ether this way).",
    fix: "Restrict the function to its owner (`require(msg.sender == owner)`, an `onlyOwner` \
        modifier), or remove `selfdestruct`.",
};

pub const UNPROTECTED_AUTHORITY: Rule = Rule {
    id: "unprotected-authority-change",
    title: "Anyone can change who is authorized",
    swc: &["SWC-105"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "A function any account can call writes a variable that other functions \
        compare with `msg.sender` to authorize (an owner, an admin list). The first caller \
        makes themselves the owner and takes what the owner may take; an initializer without a \
        check is taken by whoever calls it first.",
    fix: "Check the caller before writing it (`onlyOwner`), set it in the constructor, and give \
        initializers a guard that only the deployer passes.",
};

pub const UNPROTECTED_SETTING: Rule = Rule {
    id: "unprotected-setting",
    title: "Anyone can change a setting its owner controls",
    // The registry has no entry for missing access control in general; SWC-105 is its entry
    // for a missing check on what an owner controls.
    swc: &["SWC-105"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "Another function lets only the owner write this variable, but this one \
        writes it too and checks no one: the owner's check is missing here. Anyone can pause \
        the contract, set its fee or limits, or undo what the owner set.",
    fix: "Give the function the same check as the owner's (`onlyOwner`), or remove it if only \
        the owner should change the setting.",
};

pub const UNPROTECTED_OWNER_ACTION: Rule = Rule {
    id: "unprotected-owner-action",
    title: "Anyone can do what only the owner may do elsewhere",
    // As for `unprotected-setting`: SWC-105 is the registry's entry for a missing check on
    // what an owner controls.
    swc: &["SWC-105"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "An owner-only function does this — calls the same internal function, or \
        adds to the same balance — and this function does it too, with values the caller \
        names, without asking who the caller is: the owner's check is missing here. A mint \
        anyone can call is this: they credit themselves any amount.",
    fix: "Give the function the same check as the owner's (`onlyOwner`), or remove it.",
};

pub const MISNAMED_CONSTRUCTOR: Rule = Rule {
    id: "misnamed-constructor",
    title: "Constructor that is an ordinary public function",
    swc: &["SWC-118"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "Before 0.4.22 a constructor was the function named like the contract; a typo, \
        a different case or a renamed contract makes it an ordinary public function anyone can \
        call later, to become the owner (Rubixi, 2016).",
    fix: "Use the `constructor` keyword (0.4.22 and later) and compile with a current solc.",
};

pub const CONTROLLED_DELEGATECALL: Rule = Rule {
    id: "controlled-delegatecall",
    title: "delegatecall the caller controls",
    swc: &["SWC-112"],
    category: Category::AccessControl,
    severity: Severity::High,
    explanation: "`delegatecall` runs another contract's code on this contract's storage and \
        balance. When the caller chooses the target or the call data, they choose which code \
        runs here: they can overwrite the owner, or destroy the contract.",
    fix: "Delegate only to fixed, trusted code, with data the contract builds itself; forward \
        only whitelisted function selectors.",
};

/// Whether `node` reads the caller (`msg.sender`, `tx.origin`).
/// `msg.sender`, `tx.origin`, or a call that returns the sender (`_msgSender()`).
fn is_caller(program: &Program<'_>, node: Node<'_>) -> bool {
    program.is_sender(node) || node.is_global_member("tx", "origin")
}

/// Whether `body` compares the caller or looks it up in a condition — directly, or through a
/// local it stored the lookup in (`uint index = ownerIndex[uint(msg.sender)]; if (index == 0)
/// return;`). `callers` are parameters the caller was passed into (`_checkRole(role,
/// _msgSender())` checking `hasRole(role, account)`).
fn checks_caller(program: &Program<'_>, body: Node<'_>, callers: &HashSet<i64>) -> bool {
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

/// What an open function `function` (checked by no one) sets that it should not: a variable the
/// contract pays its funds to, set to an address the caller names (`feeRecipient = r`); or a
/// variable an owner-only function also sets, set to a value the caller names or a fixed one
/// (`paused = true` beside the owner's `unpause`). The rule, the place and the message.
fn unprotected_setting<'a>(
    program: &Program<'a>,
    function: Function<'a>,
    body: Node<'a>,
    payees: &HashMap<i64, String>,
    settings: &HashMap<i64, String>,
) -> Option<(&'static Rule, Node<'a>, String)> {
    if function.kind() != FunctionKind::Function {
        return None;
    }
    // How many times the function sets each variable: one it sets and resets is a lock or a
    // step of its own work (`busy = true; …; busy = false;`), not a setting.
    let mut sets: HashMap<i64, usize> = HashMap::new();
    body.walk(&mut |node, _| {
        if let Some(id) = set_variable(program, node) {
            *sets.entry(id).or_default() += 1;
        }
        true
    });
    let reads_state = |node: Node<'_>| {
        node.any(&mut |n| {
            n.referenced()
                .is_some_and(|id| program.is_state_variable(id))
                || n.is_global_member("block", "number")
                || n.is_global_member("block", "timestamp")
                || program.is_global(n, "now")
        })
    };
    let mut found = None;
    body.walk(&mut |node, path| {
        if found.is_some() || !program.reachable(node) {
            return false;
        }
        let Some(id) = set_variable(program, node) else {
            return true;
        };
        if sets.get(&id).is_some_and(|n| *n > 1) {
            return true;
        }
        let Some(value) = node.child("rightHandSide") else {
            return true;
        };
        let variable = program
            .declaration(id)
            .map(|d| d.name())
            .unwrap_or_default();
        if let Some(payer) = payees.get(&id)
            && !value.is("Literal")
            && named_or_fixed(function, value)
        {
            found = Some((
                &UNPROTECTED_AUTHORITY,
                function.node(),
                format!(
                    "{} sets `{variable}`, where {payer} sends the contract's funds, to an address the caller names, and anyone can call it",
                    function.display_name()
                ),
            ));
        } else if let Some(owners) = settings.get(&id)
            && named_or_fixed(function, value)
            && !in_transition(program, function, body, node, path, &reads_state)
        {
            found = Some((
                &UNPROTECTED_SETTING,
                function.node(),
                format!(
                    "{} sets `{variable}`, which {owners} lets only its owner set, and anyone can call it",
                    function.display_name()
                ),
            ));
        }
        found.is_none()
    });
    found
}

/// Whether the assignment `node` (below `path` in `body`) happens only in some state: inside a
/// branch or loop whose condition reads the contract's state or the block, or after a check
/// (`require`, `assert`, an `if` that reverts, a modifier's) that does. That is a step of the
/// contract's own state machine (`if (block.number >= start + period) start = 0;`), which the
/// owner may also be able to take, not a setting anyone can change at will.
fn in_transition(
    program: &Program<'_>,
    function: Function<'_>,
    body: Node<'_>,
    node: Node<'_>,
    path: &[Node<'_>],
    reads_state: &dyn Fn(Node<'_>) -> bool,
) -> bool {
    let branch = path.iter().any(|p| {
        matches!(
            p.kind(),
            "IfStatement" | "Conditional" | "ForStatement" | "WhileStatement" | "DoWhileStatement"
        ) && p.child("condition").is_some_and(reads_state)
    });
    let Some(at) = node.span().map(|s| s.start) else {
        return branch;
    };
    let check = |n: Node<'_>| {
        let condition = match n.kind() {
            "FunctionCall" => n
                .child("expression")
                .filter(|c| program.is_global(*c, "require") || program.is_global(*c, "assert"))
                .and_then(|_| n.children("arguments").next()),
            "IfStatement" => n.child("condition"),
            _ => None,
        };
        condition.is_some_and(reads_state)
    };
    let checked_before = body.any(&mut |n| n.span().is_some_and(|s| s.start < at) && check(n));
    let checking_modifier = program
        .modifiers(function)
        .iter()
        .any(|m| m.body().is_some_and(|b| b.any(&mut |n| check(n))));
    branch || checked_before || checking_modifier
}

/// What functions that check their caller (an owner's, through any modifier or helper: OpenZeppelin's
/// `onlyOwner` → `_checkOwner()`) do that an open function might do too: the internal functions
/// they call (that may change state) and the state they add to or take from (`totalSupply +=
/// amount`), each with the first such function.
struct OwnerActions {
    calls: HashMap<i64, String>,
    updates: HashMap<i64, String>,
}

fn owner_actions(program: &Program<'_>) -> OwnerActions {
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
fn privileged(program: &Program<'_>, function: Function<'_>) -> bool {
    owner_only(program, function)
        || admin_only(program, function)
        || program
            .modifiers(function)
            .iter()
            .any(|m| protected(program, *m, 1))
}

/// Whether `body` verifies a signature: calls `ecrecover`, or a function of the program that
/// does (three calls deep: `ECDSA.recover` → `tryRecover` → `ecrecover`).
fn verifies_signature(program: &Program<'_>, body: Node<'_>, depth: usize) -> bool {
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
fn acting_internal_call(program: &Program<'_>, node: Node<'_>) -> Option<i64> {
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
fn compound_update(program: &Program<'_>, node: Node<'_>) -> Option<i64> {
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
fn unprotected_owner_action<'a>(
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
fn reads_protection(
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
fn always_reverts(program: &Program<'_>, function: Function<'_>) -> bool {
    function.body().is_some_and(|body| {
        body.children("statements")
            .any(|statement| program.reverts(statement))
    })
}

/// The parameters of `callee` that `call` passes the caller in (a library function bound with
/// `using for` takes its receiver first).
fn caller_parameters(program: &Program<'_>, call: Node<'_>, callee: Function<'_>) -> HashSet<i64> {
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
fn stored_account(program: &Program<'_>, node: Node<'_>) -> bool {
    // Also through a getter (`owner()` returning `_owner`).
    program.returns_only(node, 0, &|n| stored_account_read(program, n))
}

fn stored_account_read(program: &Program<'_>, node: Node<'_>) -> bool {
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
fn names_caller(program: &Program<'_>, node: Node<'_>, callers: &HashSet<i64>) -> bool {
    is_caller(program, node)
        || (node.is("Identifier") && node.referenced().is_some_and(|id| callers.contains(&id)))
}

/// Whether the `delegatecall` target `address` in `function` is code the contract or its owner
/// vouches for: this contract itself (`this` / `address(this)`: running its own functions with
/// the caller's data gives the caller nothing they could not call directly, as in OpenZeppelin's
/// `Multicall`), an implementation only its owner sets (`chosen`: an upgradeable proxy's, whose
/// purpose is to run the caller's data on it), a parameter of an owner-only function or of the
/// constructor, or a parameter of an internal function every call of which passes one of these
/// (`Address.functionDelegateCall(address(this), data)`, Compound's `delegateTo(implementation,
/// data)`).
fn vouched_delegate(
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
fn owner_chosen(program: &Program<'_>, settings: &HashMap<i64, String>) -> HashSet<i64> {
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

/// Whether `call` succeeding reverts the transaction — `require(!a.delegatecall(d))`, or
/// `if (a.delegatecall(d)) revert();` — so nothing the called code wrote can persist: it either
/// failed (its writes undone) or succeeded and the revert undoes them. Proxies use the pattern
/// to run code for its return data alone.
fn success_reverts(program: &Program<'_>, call: Node<'_>, path: &[Node<'_>]) -> bool {
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

/// State variables some condition compares with the caller: `owner` in `msg.sender == owner`,
/// `admins` in `require(admins[msg.sender])`.
pub(super) fn authority_variables(program: &Program<'_>) -> Authority {
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

/// State variables whose address a `delegatecall` runs the code of — `implementation` in
/// `implementation.delegatecall(msg.data)` or a proxy's `delegatecall(gas(), impl, …)` in
/// assembly with `address impl = implementation;` (also `callcode`). Whoever writes one decides
/// what code runs on this contract's storage: it is authority as much as an owner is.
pub(super) fn delegate_targets(program: &Program<'_>) -> HashSet<i64> {
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

/// Whole state variables the contract pays out to, each with a function that pays them: the
/// recipient of an ether payment (`feeRecipient.transfer(v)`, `payable(treasury).call{value:
/// v}("")`) or of a token transfer (`token.transfer(treasury, v)`).
fn payees(program: &Program<'_>) -> HashMap<i64, String> {
    let mut found = HashMap::new();
    for (_, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            if node.is("FunctionCall") {
                let recipient = payment(node).map(|(to, _)| to).or_else(|| {
                    token_call(node, &["transfer", "safeTransfer"])
                        .and_then(|arguments| arguments.first().copied())
                });
                if let Some(to) = recipient.map(unconverted)
                    && to.is("Identifier")
                    && let Some(id) = to.referenced().filter(|id| program.is_state_variable(*id))
                {
                    found.entry(id).or_insert_with(|| function.display_name());
                }
            }
            true
        });
    }
    found
}

/// Whole state variables an owner-only function sets (`paused = false`, `fee = newFee`), each
/// with the first such function.
fn owner_settings(program: &Program<'_>) -> HashMap<i64, String> {
    let mut found = HashMap::new();
    for (_, function) in program.functions() {
        if !function.is_entry()
            || function.kind() != FunctionKind::Function
            || !(owner_only(program, function) || admin_only(program, function))
        {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            if let Some(id) = set_variable(program, node) {
                found.entry(id).or_insert_with(|| function.display_name());
            }
            true
        });
    }
    found
}

/// The whole state variable `node` sets with `=` (`paused = true`), if it is such an assignment.
fn set_variable(program: &Program<'_>, node: Node<'_>) -> Option<i64> {
    if !node.is("Assignment") || node.str("operator") != Some("=") {
        return None;
    }
    let target = node.child("leftHandSide")?;
    target
        .is("Identifier")
        .then(|| target.referenced())
        .flatten()
        .filter(|id| program.is_state_variable(*id))
}

/// Whether `value` is what the caller names or a fixed value: a parameter of `function`, or a
/// literal (`paused = true`). Not the caller themselves, a block value or a computed amount:
/// those are the contract recording what happened (`lastCaller = msg.sender`,
/// `updated = block.timestamp`).
fn named_or_fixed(function: Function<'_>, value: Node<'_>) -> bool {
    let value = unconverted(value);
    value.is("Literal")
        || (value.is("Identifier")
            && value
                .referenced()
                .is_some_and(|id| function.parameters().any(|p| p.id() == Some(id))))
}

/// State variables that authorize callers, each with the members that do (`None`: the whole
/// value): `_proposals[id].proposer` compared with the caller makes `proposer` authority, not
/// `_proposals[id].executed`.
pub(super) type Authority = HashMap<i64, HashSet<Option<String>>>;

/// Whether writing `target` writes authority: a variable of `authority`, at a member that
/// authorizes (or the whole value, or a member of a variable authorizing as a whole).
pub(super) fn writes_authority_place(authority: &Authority, target: Node<'_>) -> Option<i64> {
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
fn modifier_lookups(program: &Program<'_>) -> HashSet<i64> {
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
fn writes_authority<'a>(
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

/// Whether `function` writes contract state, itself or through the functions it calls (two
/// levels): an assignment, `delete` or `push` reaching a state variable.
fn writes_state(
    program: &Program<'_>,
    function: Function<'_>,
    known: &Memo<(i64, usize), bool>,
    depth: usize,
) -> bool {
    let Some(id) = function.node().id() else {
        return false;
    };
    known.get_or((id, depth), || {
        let Some(body) = function.body() else {
            return false;
        };
        let state = |target: Node<'_>| {
            written_variable(target).is_some_and(|id| program.is_state_variable(id))
        };
        body.any(&mut |node| match node.kind() {
            "Assignment" => node.child("leftHandSide").is_some_and(state),
            "UnaryOperation" => {
                matches!(node.str("operator"), Some("delete" | "++" | "--"))
                    && node.child("subExpression").is_some_and(state)
            }
            "FunctionCall" => {
                node.child("expression").is_some_and(|c| {
                    c.is("MemberAccess")
                        && c.name_of_member() == "push"
                        && c.child("expression").is_some_and(state)
                }) || (depth < 2
                    && program
                        .called_function(node)
                        .is_some_and(|callee| writes_state(program, callee, known, depth + 1)))
            }
            _ => false,
        })
    })
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let delegated = delegate_targets(program);
    let payees = payees(program);
    let settings = owner_settings(program);
    let chosen = owner_chosen(program, &settings);
    let actions = owner_actions(program);
    let mut authority = authority_variables(program);
    for id in &delegated {
        authority.entry(*id).or_default().insert(None);
    }
    let caller_input = |node: Node<'_>| {
        node.is_global_member("msg", "data")
            || (node.is("Identifier")
                && node
                    .referenced()
                    .and_then(|id| program.declaration(id))
                    .is_some_and(|d| {
                        d.is("VariableDeclaration")
                            && !d.flag("stateVariable")
                            && is_parameter(program, d)
                    }))
    };
    let taint = Taint::new(program, &caller_input);
    let authority_writes = Memo::new();
    let state_writes = Memo::new();
    // Authority anyone can take: what an open function writes, and that function.
    let takers: HashMap<i64, String> = program
        .functions()
        .filter(|(_, f)| {
            f.is_entry() && f.kind() == FunctionKind::Function && !protected(program, *f, 0)
        })
        .filter_map(|(_, f)| {
            Some((
                writes_authority(program, &taint, f, &authority, &authority_writes, 0)?,
                f.display_name(),
            ))
        })
        .collect();
    for (contract, function) in program.functions() {
        if function.is_modifier() {
            continue;
        }
        // Misnamed constructors: named like the contract (any case) or `Constructor`, and
        // initializing state (which anyone can then initialize again; a function that writes
        // nothing, `proxy` in `Proxy`, only shares the name).
        let name = function.name();
        if function.kind() == FunctionKind::Function
            && contract.kind() == "contract"
            && (name.eq_ignore_ascii_case(contract.name())
                || name.eq_ignore_ascii_case("constructor"))
            && writes_state(program, function, &state_writes, 0)
        {
            findings.extend(program.finding(
                &MISNAMED_CONSTRUCTOR,
                function.node(),
                &contract,
                Some(&function),
                format!(
                    "`{name}` is not the constructor of `{}` but a public function anyone can call",
                    contract.name()
                ),
            ));
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        // delegatecall with a target or data from the caller.
        body.walk(&mut |node, path| {
            if node.is("FunctionCall")
                && let Some(target) = callee(node)
                && target.is("MemberAccess")
                && target.name_of_member() == "delegatecall"
                && !success_reverts(program, node, path)
            {
                let address = target.child("expression");
                let controlled = !address
                    .is_some_and(|a| vouched_delegate(program, function, a, &chosen, 0))
                    && (address.is_some_and(|t| !taint.labels(t).is_empty())
                        || node.children("arguments").any(|a| !taint.labels(a).is_empty()));
                if controlled && !protected(program, function, 0) {
                    findings.extend(program.finding(
                        &CONTROLLED_DELEGATECALL,
                        node,
                        &contract,
                        Some(&function),
                        "`delegatecall` with a target or data the caller chooses runs their code on this contract's storage".into(),
                    ));
                }
            }
            true
        });
        if !function.is_entry() {
            continue;
        }
        let destroys = body.any(&mut |node| {
            node.is("FunctionCall")
                && program.reachable(node)
                && node.child("expression").is_some_and(|c| {
                    program.is_global(c, "selfdestruct") || program.is_global(c, "suicide")
                })
        });
        if protected(program, function, 0) {
            // Guarded by owners anyone can make themselves (an open initializer): no guard.
            if destroys && let Some(taker) = guarded_by(program, function, &takers) {
                findings.extend(program.finding(
                    &UNPROTECTED_SELFDESTRUCT,
                    function.node(),
                    &contract,
                    Some(&function),
                    format!(
                        "{} destroys the contract; only its owners may call it, but anyone can make themselves one through {taker}",
                        function.display_name()
                    ),
                ));
            }
            continue;
        }
        if destroys {
            findings.extend(program.finding(
                &UNPROTECTED_SELFDESTRUCT,
                function.node(),
                &contract,
                Some(&function),
                format!(
                    "{} destroys the contract and anyone can call it",
                    function.display_name()
                ),
            ));
            continue;
        }
        if let Some(id) =
            writes_authority(program, &taint, function, &authority, &authority_writes, 0)
        {
            let variable = program
                .declaration(id)
                .map(|d| d.name())
                .unwrap_or_default();
            let what = if delegated.contains(&id) {
                "whose code this contract runs on its own storage (`delegatecall`)"
            } else {
                "which authorizes callers elsewhere"
            };
            findings.extend(program.finding(
                &UNPROTECTED_AUTHORITY,
                function.node(),
                &contract,
                Some(&function),
                format!(
                    "{} writes `{variable}`, {what}, and anyone can call it",
                    function.display_name()
                ),
            ));
        } else if let Some(finding) =
            unprotected_setting(program, function, body, &payees, &settings)
        {
            let (rule, at, message) = finding;
            findings.extend(program.finding(rule, at, &contract, Some(&function), message));
        } else if let Some((at, message)) =
            unprotected_owner_action(program, function, body, &actions)
        {
            findings.extend(program.finding(
                &UNPROTECTED_OWNER_ACTION,
                at,
                &contract,
                Some(&function),
                message,
            ));
        }
    }
    findings
}

/// Whether `assignment` gives the caller an entry of a mapping, at keys none of which is fixed,
/// after the function required that entry empty: a registry's first-come claim (`require(names[n]
/// == address(0)); names[n] = msg.sender;`, `if (assets[id].owner != address(0)) revert();
/// assets[id] = Asset(msg.sender, …)`). It takes nothing anyone held. A whole variable claimed
/// while empty (`require(owner == address(0)); owner = a;`) is an open initializer, and an entry
/// at a fixed index a seat of authority: both stay reported.
fn claims_empty_entry(program: &Program<'_>, body: Node<'_>, assignment: Node<'_>) -> bool {
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
fn paid_for(program: &Program<'_>, assignment: Node<'_>) -> bool {
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
fn joins_as_caller<'a>(program: &Program<'a>, taint: &Taint<'_, 'a>, assignment: Node<'a>) -> bool {
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
fn own_entry(program: &Program<'_>, target: Node<'_>) -> bool {
    // A flag in the caller's own row of a nested mapping (`approved[msg.sender][operator] =
    // true`) is the caller delegating what is theirs; a flag keyed by the caller alone
    // (`admins[msg.sender] = true`) is authority over everything.
    nearest_key(target).is_some_and(|key| is_caller(program, unconverted(key)))
        && (target.type_string() != "bool" || keys(target) > 1)
}

/// How many keys a place expression indexes with: 2 in `m[a][b]`, 1 in `m[a].f`.
fn keys(target: Node<'_>) -> usize {
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
fn nearest_key(target: Node<'_>) -> Option<Node<'_>> {
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

/// The open function that writes the authority `function`'s modifiers check (in their bodies or
/// the functions they call), if any.
fn guarded_by(
    program: &Program<'_>,
    function: Function<'_>,
    takers: &HashMap<i64, String>,
) -> Option<String> {
    let mut taker = None;
    let mut reads = |body: Node<'_>| {
        body.walk(&mut |node, _| {
            if taker.is_none()
                && node.is("Identifier")
                && let Some(name) = node.referenced().and_then(|id| takers.get(&id))
            {
                taker = Some(name.clone());
            }
            taker.is_none()
        });
    };
    for modifier in function.modifier_ids() {
        let Some(body) = program
            .declaration(modifier)
            .filter(|d| d.is("ModifierDefinition"))
            .and_then(|d| Function(d).body())
        else {
            continue;
        };
        reads(body);
        let mut callees = Vec::new();
        body.walk(&mut |node, _| {
            if node.is("FunctionCall")
                && let Some(callee) = program.called_function(node).and_then(|f| f.body())
            {
                callees.push(callee);
            }
            true
        });
        for callee in callees {
            reads(callee);
        }
    }
    taker
}

/// Whether declaration `variable` is a parameter of a function anyone can call.
fn is_parameter(program: &Program<'_>, variable: Node<'_>) -> bool {
    let Some(scope) = variable.0["scope"]
        .as_i64()
        .and_then(|id| program.declaration(id))
    else {
        return false;
    };
    scope.is("FunctionDefinition")
        && Function(scope).is_entry()
        && Function(scope)
            .parameters()
            .any(|p| p.id() == variable.id())
}
