//! The `tx.origin` run: the owner lured into calling a contract the attacker wrote.
//!
//! The flagged function, with addresses pointing at the stranger, is first called by the stranger
//! directly and must be refused (the check guards it). Then the deployer — the owner a
//! constructor records — calls the attacker's forwarding contract, which calls the function with
//! the same arguments: when that goes through, the check let the attacker's contract act as the
//! owner, because `tx.origin` names whoever started the transaction, not who called. Integers
//! are one, then zero (a payout of one wei from a contract that holds nothing fails for its own
//! reason). Another account first pays the contract a little where it takes ether.

use super::{
    Chain, DEPLOYER, STRANGER, Subject,
    attack::{ATTACKER, ETHER, VICTIM, attacker, deposit_data, deposits},
    call_data,
};
use alloy_json_abi::Function;
use alloy_primitives::{TxKind, U256};
use revm::{bytecode::Bytecode, state::AccountInfo};

/// The wei the stranger gained when the owner's call through the attacker's contract went
/// through after the stranger's own call was refused; `None` when that was not shown.
pub(super) fn phished(subject: &Subject<'_>, function: &Function) -> Option<u128> {
    [U256::from(1), U256::ZERO]
        .into_iter()
        .find_map(|integers| run(subject, function, integers))
}

fn run(subject: &Subject<'_>, function: &Function, integers: U256) -> Option<u128> {
    let mut chain = Chain::new(&[DEPLOYER, STRANGER, VICTIM]);
    let target = chain.deploy(subject)?;
    // Something to take, where the contract accepts it (ignored where it does not).
    for deposit in deposits(subject.abi, function) {
        let data = deposit_data(deposit, VICTIM, U256::from(ETHER));
        let paid =
            data.and_then(|data| chain.run(VICTIM, TxKind::Call(target), data, U256::from(ETHER)));
        if paid.is_some_and(|result| result.is_success()) {
            break;
        }
    }
    let call = call_data(function, STRANGER, integers)?;
    if chain
        .run(STRANGER, TxKind::Call(target), call.clone(), U256::ZERO)?
        .is_success()
    {
        return None;
    }
    chain.db.insert_account_info(
        ATTACKER,
        AccountInfo::default().with_code(Bytecode::new_raw(attacker(target, &[]).into())),
    );
    let before = chain.balance(STRANGER);
    let lured = chain.run(DEPLOYER, TxKind::Call(ATTACKER), call, U256::ZERO)?;
    if !lured.is_success() {
        return None;
    }
    u128::try_from(chain.balance(STRANGER).saturating_sub(before)).ok()
}
