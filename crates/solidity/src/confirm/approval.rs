//! The approval runs: a stranger makes the contract take another account's tokens.
//!
//! A probe token stands for every token: whatever is called on it, it marks the call's first
//! argument — `from` of ERC-20's `transferFrom(from, to, amount)` and of ERC-721's and
//! ERC-1155's `safeTransferFrom` — as asked to give up tokens, and answers `true`. The contract
//! is created with the probe for its constructor's addresses. For `arbitrary-transfer-from` the
//! stranger calls the flagged function with the probe for every contract-typed argument and the
//! victim for one plain address argument at a time (the others the stranger); for
//! `arbitrary-call` with the probe for every address and `transferFrom(victim, stranger, 1)` for
//! every byte string. Shown when the probe was asked to move the victim's tokens: the contract,
//! called by an unrelated account, spent an approval it holds from someone else.

use super::{Chain, DEPLOYER, STRANGER, Subject, attack::VICTIM, value_of, value_with};
use alloy_dyn_abi::{DynSolType, DynSolValue, JsonAbiExt as _};
use alloy_json_abi::{Function, Param, StateMutability};
use alloy_primitives::{Address, U256, address};
use revm::{bytecode::Bytecode, state::AccountInfo};

/// Where the probe token lives.
const PROBE: Address = address!("0x000000000000000000000000000000000000a11e");
/// `SSTORE(calldataload(4), 1)`, then return the word 1: marks the first argument, says `true`.
const PROBE_CODE: [u8; 16] = [
    0x60, 0x01, 0x60, 0x04, 0x35, 0x55, 0x60, 0x01, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3,
];

/// ERC-20's `transferFrom(address,address,uint256)` selector.
const TRANSFER_FROM: [u8; 4] = [0x23, 0xb8, 0x72, 0xdd];

/// Which run: the rule being confirmed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Spend {
    /// `from` named by the caller.
    TransferFrom,
    /// A call the caller points at the token.
    Call,
}

/// Whether a run of `function` by the stranger shows the contract asking a token to move the
/// victim's tokens.
pub(super) fn spent(subject: &Subject<'_>, function: &Function, spend: Spend) -> bool {
    let plain_addresses: Vec<usize> = function
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.ty == "address" && !is_contract(p))
        .map(|(i, _)| i)
        .collect();
    match spend {
        Spend::TransferFrom => plain_addresses
            .into_iter()
            .any(|victim| run(subject, function, spend, Some(victim))),
        Spend::Call => run(subject, function, spend, None),
    }
}

fn is_contract(param: &Param) -> bool {
    matches!(
        param.internal_type,
        Some(alloy_json_abi::InternalType::Contract(_))
    )
}

fn run(subject: &Subject<'_>, function: &Function, spend: Spend, victim_at: Option<usize>) -> bool {
    let mut chain = Chain::new(&[DEPLOYER, STRANGER, VICTIM]);
    chain.db.insert_account_info(
        PROBE,
        AccountInfo::default().with_code(Bytecode::new_raw(PROBE_CODE.to_vec().into())),
    );
    let Some(contract) = chain.create(subject.abi, subject.code, &[PROBE; 8]) else {
        return false;
    };
    let mut payload = TRANSFER_FROM.to_vec();
    payload.extend(
        DynSolValue::Tuple(vec![
            DynSolValue::Address(VICTIM),
            DynSolValue::Address(STRANGER),
            DynSolValue::Uint(U256::from(1), 256),
        ])
        .abi_encode_params(),
    );
    let Some(args) = function
        .inputs
        .iter()
        .enumerate()
        .map(|(i, param)| {
            let kind: DynSolType = param.selector_type().parse().ok()?;
            match spend {
                Spend::TransferFrom if victim_at == Some(i) => Some(DynSolValue::Address(VICTIM)),
                Spend::TransferFrom if param.ty == "address" && is_contract(param) => {
                    Some(DynSolValue::Address(PROBE))
                }
                Spend::TransferFrom => value_of(&kind, STRANGER),
                Spend::Call => value_with(&kind, PROBE, &payload),
            }
        })
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let Ok(data) = function.abi_encode_input(&args) else {
        return false;
    };
    let value = if function.state_mutability == StateMutability::Payable {
        U256::from(super::ONE_ETHER)
    } else {
        U256::ZERO
    };
    let Some(result) = chain.simulate(STRANGER, contract, data, value) else {
        return false;
    };
    let marked = U256::from_be_slice(VICTIM.as_slice());
    result.result.is_success()
        && result
            .state
            .get(&PROBE)
            .and_then(|probe| probe.storage.get(&marked))
            .is_some_and(|slot| slot.present_value == U256::from(1))
}
