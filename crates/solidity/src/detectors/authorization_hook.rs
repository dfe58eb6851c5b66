//! Authorization left to an override: a base contract's entry function whose check on its
//! caller is a call to a virtual function the deriving contract writes (OpenZeppelin's UUPS
//! `upgradeToAndCall` calls `_authorizeUpgrade`). The base names the hook; what runs is the
//! most-derived override in the deployed contract. An override that checks nothing — no
//! comparison with the caller, no condition, no revert — opens the base's entry to anyone.
//! Reported at that override, under the rule of what the entry then lets anyone do: reach a
//! `delegatecall` (upgrade the contract to their own code, SWC-112), `selfdestruct` (SWC-106)
//! or write authority (SWC-105). The base usually comes from a package the report leaves out,
//! so the override, in the user's own file, is where the finding must be.

use super::access_control::{
    Authority, CONTROLLED_DELEGATECALL, UNPROTECTED_AUTHORITY, UNPROTECTED_SELFDESTRUCT,
    authority_variables, protected, protected_besides, writes_authority_place,
};
use crate::{
    Finding, Rule,
    ast::{Function, FunctionKind, Node},
    program::{Contract, Program, overridden},
};
use std::collections::{HashMap, HashSet};

/// What an entry function lets its caller do.
enum Reach {
    Delegatecall,
    Selfdestruct,
    Authority(i64),
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let authority = authority_variables(program);
    let mut reported = HashSet::new();
    let mut findings = Vec::new();
    for contract in program.contracts.iter().filter(|c| deployable(c)) {
        let bases: Vec<Contract<'_>> = contract
            .linearized()
            .into_iter()
            .filter_map(|id| program.contract(id))
            .collect();
        let runs = most_derived(program, &bases);
        for base in &bases {
            for entry in base.functions() {
                let Some(id) = entry.node().id() else {
                    continue;
                };
                // Only the entries the deployed contract has (an overridden one is read as the
                // override, in its own turn).
                if !entry.is_entry()
                    || entry.kind() != FunctionKind::Function
                    || runs.get(&id).is_none_or(|(_, f)| f.node().id() != Some(id))
                {
                    continue;
                }
                for (hook, (owner, over)) in hooks(program, entry, &runs) {
                    let Some(over_id) = over.node().id() else {
                        continue;
                    };
                    if reported.contains(&over_id)
                        || !checks_nothing(program, over)
                        || protected_besides(program, entry, hook)
                    {
                        continue;
                    }
                    let Some(reach) = reaches(program, &authority, entry) else {
                        continue;
                    };
                    let (rule, consequence): (&'static Rule, String) = match reach {
                        Reach::Delegatecall => (
                            &CONTROLLED_DELEGATECALL,
                            "reaches a `delegatecall`: they choose code that runs on this \
                             contract's storage (an upgrade to code of their own)"
                                .into(),
                        ),
                        Reach::Selfdestruct => {
                            (&UNPROTECTED_SELFDESTRUCT, "destroys the contract".into())
                        }
                        Reach::Authority(variable) => (
                            &UNPROTECTED_AUTHORITY,
                            format!(
                                "writes `{}`, which authorizes callers elsewhere",
                                program
                                    .declaration(variable)
                                    .map(|d| d.name())
                                    .unwrap_or_default()
                            ),
                        ),
                    };
                    reported.insert(over_id);
                    findings.extend(program.finding(
                        rule,
                        over.node(),
                        &owner,
                        Some(&over),
                        format!(
                            "{} (from `{}`) leaves checking its caller to {}, and this override \
                             checks nothing: anyone can call {} on `{}`, and it {consequence}; \
                             check the caller here (`onlyOwner`, `onlyRole(...)`)",
                            entry.display_name(),
                            base.name(),
                            over.display_name(),
                            entry.display_name(),
                            contract.name(),
                        ),
                    ));
                }
            }
        }
    }
    findings
}

/// A contract that can be deployed: not an interface, library or abstract contract.
fn deployable(contract: &Contract<'_>) -> bool {
    contract.kind() == "contract"
        && !contract.node.flag("abstract")
        && contract.node.0["fullyImplemented"].as_bool() != Some(false)
}

/// For each function and modifier id of the contract's bases, the one that runs in the
/// contract (with the base declaring it): the most-derived override, itself if none.
fn most_derived<'a>(
    program: &Program<'a>,
    bases: &[Contract<'a>],
) -> HashMap<i64, (Contract<'a>, Function<'a>)> {
    let mut runs = HashMap::new();
    // `bases` is solc's linearization, the contract itself first: the first claim wins.
    for base in bases {
        for function in base.functions() {
            let mut next: Vec<i64> = function.node().id().into_iter().collect();
            let mut seen = HashSet::new();
            while let Some(id) = next.pop() {
                if seen.insert(id) {
                    runs.entry(id).or_insert((*base, function));
                    next.extend(program.declaration(id).into_iter().flat_map(overridden));
                }
            }
        }
    }
    runs
}

/// The hooks `entry` calls by name (itself or in its modifiers) whose code in this contract is a
/// different function: each as the id the call names and the override that runs.
fn hooks<'a>(
    program: &Program<'a>,
    entry: Function<'a>,
    runs: &HashMap<i64, (Contract<'a>, Function<'a>)>,
) -> Vec<(i64, (Contract<'a>, Function<'a>))> {
    let mut bodies: Vec<Node<'a>> = entry.body().into_iter().collect();
    bodies.extend(
        entry
            .node()
            .children("modifiers")
            .filter_map(|m| m.child("modifierName")?.referenced())
            .filter_map(|id| {
                runs.get(&id)
                    .map(|(_, f)| *f)
                    .or_else(|| program.declaration(id).map(Function))
            })
            .filter_map(|m| m.body()),
    );
    let mut found = Vec::new();
    for body in bodies {
        body.walk(&mut |node, _| {
            if node.is("FunctionCall")
                && node.child("expression").is_some_and(|c| c.is("Identifier"))
                && let Some(named) = program.called_function(node)
                && let Some(id) = named.node().id()
                && let Some(runs_here) = runs.get(&id)
                && runs_here.1.node().id() != Some(id)
                && !found.iter().any(|(hook, _)| *hook == id)
            {
                found.push((id, *runs_here));
            }
            true
        });
    }
    found
}

/// Whether `function` stops nobody: it does not check its caller and has no condition, check
/// or revert of any kind (an override that reverts always, or checks an approved target, is a
/// decision this detector does not second-guess).
fn checks_nothing(program: &Program<'_>, function: Function<'_>) -> bool {
    let Some(body) = function.body() else {
        return false;
    };
    !protected(program, function, 0)
        && function.node().children("modifiers").next().is_none()
        && !body.any(&mut |node| {
            matches!(
                node.kind(),
                "IfStatement" | "Conditional" | "Throw" | "RevertStatement" | "InlineAssembly"
            ) || (node.is("FunctionCall")
                && node.child("expression").is_some_and(|c| {
                    ["require", "assert", "revert"]
                        .iter()
                        .any(|name| program.is_global(c, name))
                }))
        })
}

/// What `entry` lets its caller do, itself or through the functions it calls: the first
/// `delegatecall`, `selfdestruct` or write of authority found.
fn reaches(program: &Program<'_>, authority: &Authority, entry: Function<'_>) -> Option<Reach> {
    let mut next = vec![entry];
    let mut seen = HashSet::new();
    while let Some(function) = next.pop() {
        if !function.node().id().is_none_or(|id| seen.insert(id)) {
            continue;
        }
        let Some(body) = function.body() else {
            continue;
        };
        let mut found = None;
        body.walk(&mut |node, _| {
            if found.is_some() || !program.reachable(node) {
                return false;
            }
            let delegates = (node.is("MemberAccess") && node.name_of_member() == "delegatecall")
                || (node.is("YulFunctionCall")
                    && node
                        .child("functionName")
                        .is_some_and(|n| n.name() == "delegatecall"));
            if delegates {
                found = Some(Reach::Delegatecall);
            } else if node.is("FunctionCall")
                && node.child("expression").is_some_and(|c| {
                    program.is_global(c, "selfdestruct") || program.is_global(c, "suicide")
                })
            {
                found = Some(Reach::Selfdestruct);
            } else if node.is("Assignment")
                && let Some(id) = node
                    .child("leftHandSide")
                    .and_then(|target| writes_authority_place(authority, target))
            {
                found = Some(Reach::Authority(id));
            } else if node.is("FunctionCall")
                && let Some(callee) = program.called_function(node)
            {
                next.extend(program.implementations(node, callee));
            }
            found.is_none()
        });
        if found.is_some() {
            return found;
        }
    }
    None
}
