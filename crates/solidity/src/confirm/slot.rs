//! Arbitrary storage write, run: the array made to span storage, then a stranger's write at the
//! index that lands on another variable's slot.
//!
//! A dynamic array at slot `p` keeps element `i` at `keccak256(p) + i`, so index
//! `s − keccak256(p)` (mod 2^256) is slot `s`. The run tries the first slots as the array's and
//! as the target's (the state variables declared first: an owner, a lock), with every function
//! taking an integer as the write — the flagged one first, after calling the flagged function
//! once when it is the one that shortens the array. Shown when a call by the stranger changes
//! slot `s`, which no write inside the array's own elements or length can reach, and the same
//! call at index zero does not (the function does not write that variable itself).

use super::{Chain, DEPLOYER, STRANGER, Subject, call_data};
use alloy_dyn_abi::{DynSolType, DynSolValue, JsonAbiExt as _};
use alloy_json_abi::{Function, StateMutability};
use alloy_primitives::{TxKind, U256, keccak256};

/// Slots tried for the array and for the variable overwritten.
const SLOTS: u64 = 8;
/// What the write stores where an integer other than the index is asked for.
const MARKER: U256 = U256::from_limbs([0x5ca1_ab1e, 0, 0, 0]);

/// The slot a run overwrote through the array, if one did.
pub(super) fn shown(subject: &Subject<'_>, flagged: &Function) -> Option<u64> {
    let writers: Vec<&Function> = std::iter::once(flagged)
        .chain(
            subject
                .abi
                .functions()
                .filter(|f| !std::ptr::eq(*f, flagged)),
        )
        .filter(|f| {
            !matches!(
                f.state_mutability,
                StateMutability::View | StateMutability::Pure
            ) && f.inputs.iter().any(|p| p.ty == "uint256")
        })
        .collect();
    for shorten_first in [false, true] {
        let mut chain = Chain::new(&[DEPLOYER, STRANGER]);
        let target = chain.deploy(subject)?;
        if shorten_first {
            // An empty array shortened by one: its length wraps.
            let data = call_data(flagged, STRANGER, U256::from(1))?;
            let shortened = chain.run(STRANGER, TxKind::Call(target), data, U256::ZERO)?;
            if !shortened.is_success() {
                continue;
            }
        }
        for array in 0..SLOTS {
            let first = U256::from_be_bytes(keccak256(U256::from(array).to_be_bytes::<32>()).0);
            for slot in (0..SLOTS).filter(|s| *s != array) {
                let index = U256::from(slot).wrapping_sub(first);
                for writer in &writers {
                    for position in 0..writer.inputs.len() {
                        if writer.inputs[position].ty != "uint256" {
                            continue;
                        }
                        let Some(data) = write_data(writer, position, index) else {
                            continue;
                        };
                        let mut changes = |data: Vec<u8>| {
                            chain
                                .simulate(STRANGER, target, data, U256::ZERO)
                                .is_some_and(|run| {
                                    run.result.is_success()
                                        && run.state.get(&target).is_some_and(|account| {
                                            account.storage.get(&U256::from(slot)).is_some_and(
                                                |s| s.present_value != s.original_value,
                                            )
                                        })
                                })
                        };
                        // The same call at index zero must leave the slot alone: otherwise the
                        // function writes that variable itself, not through the array.
                        if changes(data)
                            && !write_data(writer, position, U256::ZERO).is_some_and(&mut changes)
                        {
                            return Some(slot);
                        }
                    }
                }
            }
        }
    }
    None
}

/// `writer`'s call data with `index` as its integer argument at `position`, [`MARKER`] as its
/// other integers, and the stranger wherever an address goes.
fn write_data(writer: &Function, position: usize, index: U256) -> Option<Vec<u8>> {
    let base = call_data(writer, STRANGER, MARKER)?;
    let mut args = writer.abi_decode_input(&base[4..]).ok()?;
    let kind: DynSolType = writer.inputs[position].selector_type().parse().ok()?;
    if kind != DynSolType::Uint(256) {
        return None;
    }
    args[position] = DynSolValue::Uint(index, 256);
    writer.abi_encode_input(&args).ok()
}
