//! Uninitialized storage pointers (SWC-109). Before solc 0.5 a local struct, array or mapping
//! declared without a value is a reference to storage slot 0: writing its fields overwrites the
//! contract's first state variables — an owner, a lock, a pot (the "honeypot" lotteries).
//! From 0.5 the compiler refuses such a declaration.

use crate::{Category, Finding, Rule, Severity, program::Program};

pub const RULE: Rule = Rule {
    id: "uninitialized-storage-pointer",
    title: "Uninitialized storage pointer",
    swc: &["SWC-109"],
    category: Category::Other,
    severity: Severity::High,
    explanation: "A local variable of struct, array or mapping type declared without a value \
        is, before Solidity 0.5, a storage reference to slot 0. Writing to it overwrites the \
        state variables stored first in the contract (often the owner or a lock), whatever the \
        code seems to say.",
    fix: "Declare it `memory` for a temporary value (`Game memory game;`), or point it at the \
        storage it is meant to change (`Game storage game = games[id];`); better, compile with \
        Solidity 0.5 or later, which refuses the declaration.",
};

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (contract, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            if !node.is("VariableDeclarationStatement") || node.child("initialValue").is_some() {
                return true;
            }
            for declaration in node.children("declarations") {
                // solc 0.4 types it `struct C.Game` with identifier `…_storage_ptr`.
                if declaration.type_identifier().ends_with("_storage_ptr") {
                    findings.extend(program.finding(
                        &RULE,
                        declaration,
                        &contract,
                        Some(&function),
                        format!(
                            "`{}` in {} is a storage pointer declared without a value: it points at slot 0, so writing to it overwrites the contract's first state variables",
                            declaration.name(),
                            function.display_name()
                        ),
                    ));
                }
            }
            true
        });
    }
    findings
}
