//! Short address, run: the flagged transfer called by the account that holds the tokens (the
//! deployer, who a token's constructor credits) with its recipient's last byte left out, as a
//! client that does not check the length of an address it was given sends it.
//!
//! The recipient's address ends in a zero byte; without it the call data is one byte short,
//! every word after the address is read one byte to the left and the EVM pads the end with a
//! zero: the amount is read 256 times larger. The finding is shown when that short call leaves
//! the contract's storage exactly as a full call with 256 times the amount does, and differently
//! from a full call with the amount (the shift, not an amount the function ignores). The holder
//! gets its tokens from the constructor as created with the usual arguments, then with a large
//! integer in every integer argument (an initial supply), then by paying one ether through each
//! way of paying the contract (a sale).

use super::{
    Chain, DEPLOYER, Subject,
    attack::{ETHER, deposit_data, deposits},
    value_of,
};
use alloy_dyn_abi::{DynSolType, DynSolValue, JsonAbiExt as _};
use alloy_json_abi::Function;
use alloy_primitives::{Address, TxKind, U256};
use std::collections::BTreeMap;

/// The recipient the holder means to pay: its last byte is zero, the byte the attack omits.
const RECIPIENT: Address = alloy_primitives::address!("0x00000000000000000000000000000000beef5a00");
/// The amount the holder means to pay.
const AMOUNT: u64 = 1;
/// Integer constructor arguments of the second creation: a supply large enough for the holder to
/// pay 256 times [`AMOUNT`] in any token with up to 18 decimals.
const SUPPLY: u128 = 1_000_000_000_000_000_000_000_000;

/// Whether a short call of `function` moves 256 times the amount it names.
pub(super) fn shown(subject: &Subject<'_>, function: &Function) -> bool {
    let Some(words) = words(function) else {
        return false;
    };
    let bought = deposits(subject.abi, function)
        .into_iter()
        .map(Holding::Bought);
    [Holding::Created, Holding::Supplied]
        .into_iter()
        .chain(bought)
        .any(|holding| shown_with(subject, function, words, holding))
}

/// How the holder came to hold tokens.
#[derive(Clone, Copy)]
enum Holding<'a> {
    /// The contract created with the usual arguments (a constructor that credits its caller).
    Created,
    /// Created with [`SUPPLY`] in every integer argument (an initial supply).
    Supplied,
    /// Created with the usual arguments, then one ether paid through this way of paying (a
    /// payable function, or `None` for a plain transfer): a sale that credits the buyer.
    Bought(Option<&'a Function>),
}

/// Where the call's recipient and amount are, as argument indexes.
#[derive(Clone, Copy)]
struct Words {
    /// The last address argument before the amount: the one the attack shortens.
    recipient: usize,
    /// The first integer argument (wider than a byte) with an address before it.
    amount: usize,
}

/// The recipient and amount of `function`'s arguments, when every argument is one word in the
/// call data (a dynamic argument's offset would move too, and the run would show something else).
fn words(function: &Function) -> Option<Words> {
    let kinds: Vec<DynSolType> = function
        .inputs
        .iter()
        .map(|p| p.selector_type().parse().ok())
        .collect::<Option<_>>()?;
    if !kinds.iter().all(|kind| {
        matches!(
            kind,
            DynSolType::Address
                | DynSolType::Bool
                | DynSolType::Uint(_)
                | DynSolType::Int(_)
                | DynSolType::FixedBytes(_)
        )
    }) {
        return None;
    }
    let first_address = kinds.iter().position(|k| *k == DynSolType::Address)?;
    let amount = (first_address + 1..kinds.len())
        .find(|&i| matches!(kinds[i], DynSolType::Uint(bits) if bits > 8))?;
    let recipient = (first_address..amount)
        .rev()
        .find(|&i| kinds[i] == DynSolType::Address)?;
    Some(Words { recipient, amount })
}

/// [`shown`] with the holder holding tokens as `holding` says.
fn shown_with(
    subject: &Subject<'_>,
    function: &Function,
    words: Words,
    holding: Holding<'_>,
) -> bool {
    let written = |amount: u64, short: bool| -> Option<BTreeMap<U256, U256>> {
        let mut chain = Chain::new(&[DEPLOYER]);
        let target = match holding {
            Holding::Supplied => chain.deploy_with_integers(subject, U256::from(SUPPLY))?,
            Holding::Created | Holding::Bought(_) => chain.deploy(subject)?,
        };
        if let Holding::Bought(deposit) = holding {
            let data = deposit_data(deposit, DEPLOYER, U256::from(ETHER))?;
            let paid = chain.run(DEPLOYER, TxKind::Call(target), data, U256::from(ETHER))?;
            if !paid.is_success() {
                return None;
            }
        }
        let mut data = call_data(function, words, amount)?;
        if short {
            // The recipient word's last byte: the address's, which is zero.
            let last = 4 + 32 * words.recipient + 31;
            debug_assert_eq!(data[last], 0);
            data.remove(last);
        }
        let run = chain.simulate(DEPLOYER, target, data, U256::ZERO)?;
        if !run.result.is_success() {
            return None;
        }
        let after = run.state.get(&target)?;
        Some(
            after
                .storage
                .iter()
                .filter(|(_, slot)| slot.present_value != slot.original_value)
                .map(|(key, slot)| (*key, slot.present_value))
                .collect(),
        )
    };
    let Some(short) = written(AMOUNT, true) else {
        return false;
    };
    !short.is_empty()
        && written(AMOUNT * 256, false).is_some_and(|larger| larger == short)
        && written(AMOUNT, false).is_some_and(|meant| meant != short)
}

/// `function`'s call data paying `amount` to [`RECIPIENT`]: every address is the recipient, other
/// values small.
fn call_data(function: &Function, words: Words, amount: u64) -> Option<Vec<u8>> {
    let args = function
        .inputs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let kind: DynSolType = p.selector_type().parse().ok()?;
            match kind {
                DynSolType::Uint(bits) if i == words.amount => {
                    Some(DynSolValue::Uint(U256::from(amount), bits))
                }
                kind => value_of(&kind, RECIPIENT),
            }
        })
        .collect::<Option<Vec<_>>>()?;
    function.abi_encode_input(&args).ok()
}
