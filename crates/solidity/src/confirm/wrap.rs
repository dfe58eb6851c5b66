//! Integer wrap-around, run: the flagged function called by a stranger with integer arguments
//! chosen to wrap, and the contract's storage compared before and after.
//!
//! An underflow is shown when a call with every integer argument set to one (or to one ether),
//! the first or a second, leaves a stored word within 2^64 of 2^256 that was not there before: `0 - 1` as the EVM
//! computes it, which no arithmetic on small numbers produces otherwise. An overflow is shown
//! when a call with every integer argument at its largest makes a stored word that was not zero
//! smaller (twice, so that a word the first call set can wrap on the second): an addition that
//! wrapped, as a function that only stores its argument stores the same word again. A product
//! (`receivers.length * value` checked against a balance, the 2018 batch-transfer bug, or
//! `tokens * PRICE` checked against the ether sent) is shown when a call with 2^255 — and two
//! entries in each list, no ether — succeeds and stores a word of at least 2^254 that was not
//! there, while the same call with 2^255 − 1 is refused: 2^255 times any even number wraps to
//! zero, one less does not, so the wrap is what let it through.

use super::{Chain, DEPLOYER, STRANGER, Subject, call_data};
use alloy_dyn_abi::{DynSolType, DynSolValue, JsonAbiExt as _};
use alloy_json_abi::{Function, StateMutability};
use alloy_primitives::{Address, TxKind, U256};
use std::collections::HashMap;

/// Where address arguments point: neither the deployer nor the caller.
const RECIPIENT: Address = alloy_primitives::address!("0x000000000000000000000000000000000000beef");
/// A second one, for lists of two.
const SECOND_RECIPIENT: Address =
    alloy_primitives::address!("0x000000000000000000000000000000000000bee2");

/// What a run showed.
pub enum Wrapped {
    /// A stored word became `2^256 - k` for a small `k`, after `calls` calls with `integer`.
    Under { integer: U256, calls: u8 },
    /// A stored word went from `before` to the smaller `after`.
    Over,
    /// 2^255 went through and stored a huge word, 2^255 − 1 was refused; `lists` when the
    /// function's lists held two entries.
    Product { lists: bool },
}

/// Whether running `function` shows the wrap the finding describes (`under`: a subtraction): on
/// the contract as created, then after the stranger first called one of the contract's other
/// functions that take no arguments (an `init()` a counter waits for); with that function's name.
pub(super) fn shown(
    subject: &Subject<'_>,
    function: &Function,
    under: bool,
    product: bool,
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
        if let Some(wrapped) = shown_after(subject, function, under, product, setup) {
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
    product: bool,
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
    if let Some(wrapped) = grown_smaller(&created, function) {
        return Some(wrapped);
    }
    if product {
        return product_let_through(&created, function);
    }
    None
}

/// Twice the largest integer: a stored word that was not zero is smaller after adding it.
fn grown_smaller(
    created: &impl Fn() -> Option<(Chain, Address)>,
    function: &Function,
) -> Option<Wrapped> {
    let (mut chain, target) = created()?;
    let mut before = storage(&chain, target);
    for _ in 0..2 {
        call(&mut chain, target, function, U256::MAX)?;
        let after = storage(&chain, target);
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

/// 2^255 against 2^255 − 1, lists of two: see the module doc.
fn product_let_through(
    created: &impl Fn() -> Option<(Chain, Address)>,
    function: &Function,
) -> Option<Wrapped> {
    let half = U256::from(1) << 255;
    let huge = |word: &U256| *word >= U256::from(1) << 254;
    let (mut chain, target) = created()?;
    if listing(&mut chain, target, function, half - U256::from(1)).is_some() {
        return None;
    }
    let (mut chain, target) = created()?;
    let before = storage(&chain, target);
    listing(&mut chain, target, function, half)?;
    let lists = function
        .inputs
        .iter()
        .any(|p| p.selector_type().ends_with(']'));
    storage(&chain, target)
        .iter()
        .any(|(slot, word)| huge(word) && !before.get(slot).is_some_and(huge))
        .then_some(Wrapped::Product { lists })
}

/// Calls `function` as the stranger, without ether, with every list holding two distinct
/// accounts and integers set to `integer`; `None` unless it succeeded.
fn listing(chain: &mut Chain, target: Address, function: &Function, integer: U256) -> Option<()> {
    let args = function
        .inputs
        .iter()
        .map(|p| {
            let kind: DynSolType = p.selector_type().parse().ok()?;
            Some(match kind {
                DynSolType::Array(inner) => DynSolValue::Array(vec![
                    entry(&inner, RECIPIENT, integer)?,
                    entry(&inner, SECOND_RECIPIENT, integer)?,
                ]),
                kind => entry(&kind, RECIPIENT, integer)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let data = function.abi_encode_input(&args).ok()?;
    chain
        .run(STRANGER, TxKind::Call(target), data, U256::ZERO)?
        .is_success()
        .then_some(())
}

/// A value of `kind`: `who` for an address, `integer` (clipped) for an unsigned integer.
fn entry(kind: &DynSolType, who: Address, integer: U256) -> Option<DynSolValue> {
    match kind {
        DynSolType::Uint(bits) => Some(super::clipped(integer, *bits)),
        kind => super::value_of(kind, who),
    }
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
