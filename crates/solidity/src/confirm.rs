//! Confirmation runs: the compiled contract executed in revm to show that a finding happens,
//! not only that the code reads that way. The contract is created in an empty in-memory state
//! by a deployer account, and the flagged function is called by an unrelated account with
//! arguments that point at itself. A finding is confirmed when the run shows its effect:
//! the contract destroyed (`unprotected-selfdestruct`), or a storage slot now holding the
//! stranger's address (`unprotected-authority-change`). Runs that revert, or contracts whose
//! constructor or function cannot be driven this way, leave the finding as the analysis made it.

use crate::Finding;
use alloy_dyn_abi::{DynSolType, DynSolValue, JsonAbiExt as _};
use alloy_json_abi::{Function, JsonAbi, Param};
use alloy_primitives::{Address, Bytes, TxKind, U256, address};
use revm::{
    Context, ExecuteCommitEvm as _, ExecuteEvm as _, MainBuilder as _, MainContext as _,
    context::{
        CfgEnv, TxEnv,
        result::{ExecutionResult, SuccessReason},
    },
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::AccountInfo,
};

/// Creates the contract.
const DEPLOYER: Address = address!("0x00000000000000000000000000000000000d3910");
/// Calls the flagged function: an account the contract has never seen.
const STRANGER: Address = address!("0x000000000000000000000000000000005742a9e4");
const GAS: u64 = 30_000_000;
/// Ether each account starts with (payable constructors and functions get one ether).
const FUNDS: u128 = 1_000_000_000_000_000_000_000;
const ONE_ETHER: u128 = 1_000_000_000_000_000_000;

/// The rules a run can confirm.
pub const CONFIRMABLE: &[&str] = &["unprotected-selfdestruct", "unprotected-authority-change"];

/// Marks the findings of `output`'s contracts that a run confirms, and says so in their
/// messages.
pub fn confirm(output: &ricaas_solc::CompileOutput, findings: &mut [Finding]) {
    for finding in findings
        .iter_mut()
        .filter(|f| CONFIRMABLE.contains(&f.rule) && !f.function.is_empty())
    {
        let Some(contract) = output
            .contracts
            .iter()
            .find(|c| c.deployable && c.name == finding.contract && c.file == finding.file)
        else {
            continue;
        };
        let Ok(abi) = serde_json::from_value::<JsonAbi>(contract.abi.clone()) else {
            continue;
        };
        let Ok(code) = hex_bytes(&contract.bytecode) else {
            continue;
        };
        let confirmed = abi
            .functions
            .get(&finding.function)
            .into_iter()
            .flatten()
            .any(|function| shown(&abi, &code, function, finding.rule));
        if confirmed {
            finding.confirmed = true;
            finding.message.push_str(match finding.rule {
                "unprotected-selfdestruct" => {
                    " (confirmed: called by an unrelated account, the contract was destroyed)"
                }
                _ => {
                    " (confirmed: called by an unrelated account, it stored that account's address)"
                }
            });
        }
    }
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, ()> {
    let text = text.trim_start_matches("0x");
    if text.is_empty() {
        return Err(());
    }
    alloy_primitives::hex::decode(text).map_err(|_| ())
}

/// A value of `param`'s type pointing at `who` where it can (addresses), small otherwise.
fn argument(param: &Param, who: Address) -> Option<DynSolValue> {
    let kind: DynSolType = param.selector_type().parse().ok()?;
    value_of(&kind, who)
}

fn value_of(kind: &DynSolType, who: Address) -> Option<DynSolValue> {
    Some(match kind {
        DynSolType::Address => DynSolValue::Address(who),
        DynSolType::Bool => DynSolValue::Bool(true),
        DynSolType::Uint(bits) => DynSolValue::Uint(U256::from(1), *bits),
        DynSolType::Int(bits) => DynSolValue::Int(alloy_primitives::I256::ONE, *bits),
        DynSolType::FixedBytes(size) => DynSolValue::FixedBytes(Default::default(), *size),
        DynSolType::Bytes => DynSolValue::Bytes(Vec::new()),
        DynSolType::String => DynSolValue::String(String::new()),
        DynSolType::Array(_) => DynSolValue::Array(Vec::new()),
        DynSolType::FixedArray(inner, size) => DynSolValue::FixedArray(
            (0..*size)
                .map(|_| value_of(inner, who))
                .collect::<Option<_>>()?,
        ),
        DynSolType::Tuple(inner) => DynSolValue::Tuple(
            inner
                .iter()
                .map(|t| value_of(t, who))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

fn account(balance: u128) -> AccountInfo {
    AccountInfo {
        balance: U256::from(balance),
        ..Default::default()
    }
}

/// Whether calling `function` as a stranger after creating the contract shows `rule`.
fn shown(abi: &JsonAbi, code: &[u8], function: &Function, rule: &str) -> bool {
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(DEPLOYER, account(FUNDS));
    db.insert_account_info(STRANGER, account(FUNDS));
    // Before Cancun `selfdestruct` removes the contract (EIP-6780 keeps it afterwards).
    let cfg = || {
        let mut cfg = CfgEnv::new_with_spec(SpecId::SHANGHAI);
        cfg.disable_nonce_check = true;
        cfg
    };
    let mut evm = Context::mainnet()
        .with_db(&mut db)
        .with_cfg(cfg())
        .build_mainnet();
    let mut creation = code.to_vec();
    let mut value = U256::ZERO;
    if let Some(constructor) = &abi.constructor {
        let Some(args) = constructor
            .inputs
            .iter()
            .map(|p| argument(p, DEPLOYER))
            .collect::<Option<Vec<_>>>()
        else {
            return false;
        };
        let Ok(encoded) = constructor.abi_encode_input(&args) else {
            return false;
        };
        creation.extend(encoded);
        if constructor.state_mutability == alloy_json_abi::StateMutability::Payable {
            value = U256::from(ONE_ETHER);
        }
    }
    let tx = |caller: Address, kind: TxKind, data: Vec<u8>, value: U256| TxEnv {
        caller,
        kind,
        data: Bytes::from(data),
        value,
        gas_limit: GAS,
        ..Default::default()
    };
    let Ok(created) = evm.transact_commit(tx(DEPLOYER, TxKind::Create, creation, value)) else {
        return false;
    };
    let Some(contract) = created.created_address().filter(|_| created.is_success()) else {
        return false;
    };
    let Some(args) = function
        .inputs
        .iter()
        .map(|p| argument(p, STRANGER))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let Ok(call) = function.abi_encode_input(&args) else {
        return false;
    };
    let value = if function.state_mutability == alloy_json_abi::StateMutability::Payable {
        U256::from(ONE_ETHER)
    } else {
        U256::ZERO
    };
    let Ok(run) = evm.transact(tx(STRANGER, TxKind::Call(contract), call, value)) else {
        return false;
    };
    if !run.result.is_success() {
        return false;
    }
    let Some(after) = run.state.get(&contract) else {
        return false;
    };
    match rule {
        "unprotected-selfdestruct" => {
            after.is_selfdestructed()
                || matches!(
                    run.result,
                    ExecutionResult::Success {
                        reason: SuccessReason::SelfDestruct,
                        ..
                    }
                )
        }
        _ => {
            // The address may share its slot with smaller variables: look at every byte offset.
            let holds = |word: U256| {
                let mask = (U256::from(1) << 160) - U256::from(1);
                let stranger = U256::from_be_slice(STRANGER.as_slice());
                (0..=12).any(|byte| (word >> (8 * byte)) & mask == stranger)
            };
            after
                .storage
                .values()
                .any(|slot| holds(slot.present_value) && !holds(slot.original_value))
        }
    }
}
