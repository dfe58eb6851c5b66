//! The unprotected-withdrawal run: a stranger takes other people's ether without re-entering.
//!
//! A victim deposits ten ether through each way of paying the contract in turn; the stranger
//! (a plain account) deposits one ether the same way, then calls the flagged function twice
//! asking for one ether (integer arguments, addresses pointing at itself). The withdrawal is
//! shown when the stranger ends with more ether than it put in: a credit paid and never reduced
//! is paid on the second call, a bound checked the wrong way round pays what was never owed.

use super::{
    Chain, DEPLOYER, STRANGER, Subject,
    attack::{ETHER, VICTIM, configure, deposit_data, deposits},
    call_data,
};
use alloy_json_abi::Function;
use alloy_primitives::{TxKind, U256};

/// The wei the stranger left with, above what it deposited, when the run on `function` shows it.
pub(super) fn taken(subject: &Subject<'_>, function: &Function) -> Option<u128> {
    deposits(subject.abi, function)
        .into_iter()
        .find_map(|deposit| run(subject, function, deposit))
}

fn run(subject: &Subject<'_>, function: &Function, deposit: Option<&Function>) -> Option<u128> {
    let mut chain = Chain::new(&[DEPLOYER, STRANGER, VICTIM]);
    let (target, companions) = chain.deploy_beside(subject)?;
    configure(&mut chain, subject, target, &companions);
    let pay = |chain: &mut Chain, who, amount: u128| {
        let data = deposit_data(deposit, who, U256::from(amount))?;
        Some(
            chain
                .run(who, TxKind::Call(target), data, U256::from(amount))?
                .is_success(),
        )
    };
    if !pay(&mut chain, VICTIM, 10 * ETHER)? {
        return None;
    }
    let start = chain.balance(STRANGER);
    pay(&mut chain, STRANGER, ETHER)?;
    let withdraw = call_data(function, STRANGER, U256::from(ETHER))?;
    for _ in 0..2 {
        chain.run(STRANGER, TxKind::Call(target), withdraw.clone(), U256::ZERO)?;
    }
    let end = chain.balance(STRANGER);
    u128::try_from(end.checked_sub(start)?)
        .ok()
        .filter(|gain| *gain > 0)
}
