//! Integer wrap-around, run: the flagged function called by a stranger with integer arguments
//! chosen to wrap, and the contract's storage compared before and after.
//!
//! An underflow is shown when a call with every integer argument set to one (or to one ether),
//! the first or a second, leaves a stored word within 2^64 of 2^256 that was not there before: `0 - 1` as the EVM
//! computes it, which no arithmetic on small numbers produces otherwise. An overflow is shown
//! when a call with every integer argument at its largest makes a stored word that was not zero
//! smaller (twice, so that a word the first call set can wrap on the second): an addition that
//! wrapped, as a function that only stores its argument stores the same word again.

use super::{Chain, DEPLOYER, STRANGER, Subject, call_data};
use alloy_json_abi::{Function, StateMutability};
use alloy_primitives::{Address, TxKind, U256};
use std::collections::HashMap;

/// Where address arguments point: neither the deployer nor the caller.
const RECIPIENT: Address = alloy_primitives::address!("0x000000000000000000000000000000000000beef");

/// What a run showed.
pub enum Wrapped {
    /// A stored word became `2^256 - k` for a small `k`, after `calls` calls with `integer`.
    Under { integer: U256, calls: u8 },
    /// A stored word went from `before` to the smaller `after`.
    Over,
}

/// Whether running `function` shows the wrap the finding describes (`under`: a subtraction): on
/// the contract as created, then after the stranger first called one of the contract's other
/// functions that take no arguments (an `init()` a counter waits for); with that function's name.
pub(super) fn shown(
    subject: &Subject<'_>,
    function: &Function,
    under: bool,
) -> Option<(Wrapped, Option<String>)> {
    let setups = std::iter::once(None).chain(
        subject
            .abi
            .functions()
            .filter(|f| {
                f.inputs.is_empty()
                    && f.name != function.name
                    && !matches!(
                        f.state_mutability,
                        StateMutability::View | StateMutability::Pure
                    )
            })
            .map(Some),
    );
    for setup in setups {
        if let Some(wrapped) = shown_after(subject, function, under, setup) {
            return Some((wrapped, setup.map(|f| f.name.clone())));
        }
    }
    None
}

/// [`shown`] on a contract the stranger first called `setup` on.
fn shown_after(
    subject: &Subject<'_>,
    function: &Function,
    under: bool,
    setup: Option<&Function>,
) -> Option<Wrapped> {
    let created = || {
        let mut chain = Chain::new(&[DEPLOYER, STRANGER]);
        let target = chain.deploy(subject)?;
        if let Some(setup) = setup {
            call(&mut chain, target, setup, U256::from(1))?;
        }
        Some((chain, target))
    };
    if under {
        // One, then one ether (a counter that starts at one needs more than one to go below).
        for integer in [U256::from(1), U256::from(super::ONE_ETHER)] {
            let (mut chain, target) = created()?;
            let before = storage(&chain, target);
            let near_top = |word: &U256| *word >= U256::MAX - U256::from(u64::MAX);
            // Twice: a first call may only set the function up (`if (!initialized) {
            // initialized = true; return; }`).
            for calls in 1..=2 {
                if call(&mut chain, target, function, integer).is_none() {
                    break;
                }
                let wrapped = storage(&chain, target)
                    .iter()
                    .any(|(slot, word)| near_top(word) && !before.get(slot).is_some_and(near_top));
                if wrapped {
                    return Some(Wrapped::Under { integer, calls });
                }
            }
        }
        return None;
    }
    let (mut chain, target) = created()?;
    let mut before = storage(&chain, target);
    for _ in 0..2 {
        call(&mut chain, target, function, U256::MAX)?;
        let after = storage(&chain, target);
        // A word that was not zero is smaller after adding the largest integer to it.
        let smaller = before
            .iter()
            .any(|(slot, word)| !word.is_zero() && after.get(slot).is_some_and(|now| now < word));
        if smaller {
            return Some(Wrapped::Over);
        }
        before = after;
    }
    None
}

/// The contract's stored words (those the run has touched).
fn storage(chain: &Chain, target: Address) -> HashMap<U256, U256> {
    chain
        .db
        .cache
        .accounts
        .get(&target)
        .map(|a| a.storage.clone().into_iter().collect())
        .unwrap_or_default()
}

/// Calls `function` as the stranger with integers set to `integer` (clipped to their width),
/// addresses to another account (a transfer to oneself would undo its own wrap); `None` unless
/// it succeeded.
fn call(chain: &mut Chain, target: Address, function: &Function, integer: U256) -> Option<()> {
    let data = call_data(function, RECIPIENT, integer)?;
    let value = if function.state_mutability == StateMutability::Payable {
        U256::from(super::ONE_ETHER)
    } else {
        U256::ZERO
    };
    chain
        .run(STRANGER, TxKind::Call(target), data, value)?
        .is_success()
        .then_some(())
}
