//! Access control: functions anyone can call that should be the owner's. A function "checks
//! its caller" when its body, its modifiers or the internal functions it calls (two levels)
//! compare `msg.sender` (or `tx.origin`) or look it up in a condition. Variables that decide
//! authority are the state variables some check compares with the caller. Reported: entry
//! functions that destroy the contract or write an authority variable without checking the
//! caller (SWC-105, SWC-106), constructors misnamed into public functions (SWC-118), and
//! `delegatecall` to a target or with data the caller chooses (SWC-112).
//!
//! Who checks the caller is `protection`; which variables are authority and which writes to them
//! change it, `authority`; what owner-only functions do, `owner_actions`; which `delegatecall`
//! targets the contract vouches for, `delegation`.

use crate::{
    Category, Finding, Rule, Severity,
    ast::{Function, FunctionKind, Node, callee, payment, token_call, unconverted},
    program::{Memo, Program},
    taint::{Taint, written_variable},
};
use std::collections::HashMap;

mod authority;
mod delegation;
mod owner_actions;
mod protection;

use authority::writes_authority;
pub(super) use authority::{Authority, authority_variables, writes_authority_place};
pub(super) use delegation::delegate_targets;
use delegation::{owner_chosen, success_reverts, vouched_delegate};
use owner_actions::{owner_actions, unprotected_owner_action};
pub(crate) use protection::{admin_only, asks_about, owner_only, protected, protected_besides};

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
