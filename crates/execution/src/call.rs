//! Read-only execution: `eth_call` and `eth_estimateGas`, with optional state overrides.

use crate::{
    BlockContext, ChainRules, StateReadError,
    block::cfg_env,
    state::BlockState,
    system::{Consortium, StateSlots, membership::RiChainPrecompiles},
};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_rpc_types_eth::state::StateOverride;
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{TxEnv, result::EVMError},
    context_interface::result::{ExecutionResult, Output},
};
use ricaas_storage::Snapshot;

/// A call as `eth_call` describes it. Missing fields take the defaults Ethereum nodes use.
#[derive(Clone, Debug, Default)]
pub struct CallRequest {
    pub from: Option<Address>,
    pub to: Option<Address>,
    pub gas: Option<u64>,
    pub gas_price: Option<u128>,
    pub value: Option<U256>,
    pub input: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOutcome {
    pub output: Bytes,
    pub gas_used: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call reverted; `data` is the raw revert payload.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted { reason: Option<String>, data: Bytes },
    #[error("execution halted: {0}")]
    Halted(String),
    #[error("invalid call: {0}")]
    Invalid(String),
    #[error(transparent)]
    State(#[from] StateReadError),
    #[error("gas required exceeds allowance ({0})")]
    GasExceedsAllowance(u64),
}

fn apply_overrides(
    state: &mut BlockState<'_, Snapshot>,
    overrides: &StateOverride,
) -> Result<(), CallError> {
    for (address, account) in overrides {
        if account.state.is_some() && account.state_diff.is_some() {
            return Err(CallError::Invalid(format!(
                "account {address} has both 'state' and 'stateDiff' overrides"
            )));
        }
        if account.move_precompile_to.is_some() {
            return Err(CallError::Invalid(
                "movePrecompileToAddress is not supported".into(),
            ));
        }
        let mut current = state.account(address)?.unwrap_or_default();
        if let Some(balance) = account.balance {
            current.balance = balance;
        }
        if let Some(nonce) = account.nonce {
            current.nonce = nonce;
        }
        state.set_account(*address, current);
        if let Some(code) = &account.code {
            state.set_code(*address, code.clone())?;
        }
        if let Some(slots) = &account.state {
            state.wipe_storage(*address);
            for (slot, value) in slots {
                state.set_storage(*address, (*slot).into(), (*value).into());
            }
        }
        if let Some(slots) = &account.state_diff {
            for (slot, value) in slots {
                state.set_storage(*address, (*slot).into(), (*value).into());
            }
        }
    }
    Ok(())
}

fn run(
    snapshot: &Snapshot,
    rules: &ChainRules,
    context: &BlockContext,
    request: &CallRequest,
    gas_limit: u64,
    overrides: Option<&StateOverride>,
) -> Result<ExecutionResult, CallError> {
    let mut state = BlockState::new(snapshot);
    if let Some(overrides) = overrides {
        apply_overrides(&mut state, overrides)?;
    }
    let from = request.from.unwrap_or_default();
    let nonce = state.account(&from)?.map(|a| a.nonce).unwrap_or_default();
    let mut cfg = cfg_env(rules);
    cfg.disable_nonce_check = true;
    let tx = TxEnv {
        tx_type: 0,
        caller: from,
        gas_limit,
        gas_price: request.gas_price.unwrap_or_default(),
        kind: request.to.map_or(TxKind::Create, TxKind::Call),
        value: request.value.unwrap_or_default(),
        data: request.input.clone(),
        nonce,
        chain_id: Some(rules.chain_id),
        ..Default::default()
    };
    let consortium = Consortium::load(&mut StateSlots(snapshot))
        .map_err(|e| CallError::Invalid(e.to_string()))?;
    let mut evm = Context::mainnet()
        .with_db(&mut state)
        .with_block(context.block_env())
        .with_cfg(cfg)
        .build_mainnet()
        .with_precompiles(RiChainPrecompiles::new(consortium));
    match evm.transact(tx) {
        Ok(result) => Ok(result.result),
        Err(EVMError::Database(e)) => Err(e.into()),
        Err(EVMError::Transaction(invalid)) => Err(CallError::Invalid(invalid.to_string())),
        Err(other) => Err(CallError::Invalid(other.to_string())),
    }
}

fn default_gas(rules: &ChainRules, request: &CallRequest) -> u64 {
    request
        .gas
        .unwrap_or(rules.tx_gas_limit)
        .min(rules.tx_gas_limit)
}

fn into_outcome(result: ExecutionResult) -> Result<CallOutcome, CallError> {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { output, .. } => {
            let output = match output {
                Output::Call(bytes) | Output::Create(bytes, _) => bytes,
            };
            Ok(CallOutcome { output, gas_used })
        }
        ExecutionResult::Revert { output, .. } => {
            // geth's wording is "execution reverted: <reason>"; alloy prefixes string reasons
            // with "revert: ", which would read twice.
            let reason = alloy_sol_types::decode_revert_reason(&output)
                .map(|r| r.strip_prefix("revert: ").map(str::to_string).unwrap_or(r));
            Err(CallError::Reverted {
                reason,
                data: output,
            })
        }
        ExecutionResult::Halt { reason, .. } => Err(CallError::Halted(format!("{reason:?}"))),
    }
}

/// `eth_call`: executes without committing anything.
pub fn call(
    snapshot: &Snapshot,
    rules: &ChainRules,
    context: &BlockContext,
    request: &CallRequest,
    overrides: Option<&StateOverride>,
) -> Result<CallOutcome, CallError> {
    into_outcome(run(
        snapshot,
        rules,
        context,
        request,
        default_gas(rules, request),
        overrides,
    )?)
}

/// `eth_estimateGas`: the smallest gas limit at which the call succeeds, found by binary search
/// between the gas it used and the cap (gas refunds and the 63/64 rule make `gas_used` alone too
/// small for some calls).
pub fn estimate_gas(
    snapshot: &Snapshot,
    rules: &ChainRules,
    context: &BlockContext,
    request: &CallRequest,
    overrides: Option<&StateOverride>,
) -> Result<u64, CallError> {
    let cap = default_gas(rules, request);
    let first = into_outcome(run(snapshot, rules, context, request, cap, overrides)?).map_err(
        |e| match e {
            CallError::Halted(reason) if reason.contains("OutOfGas") => {
                CallError::GasExceedsAllowance(cap)
            }
            other => other,
        },
    )?;
    let succeeds = |gas: u64| -> Result<bool, CallError> {
        Ok(run(snapshot, rules, context, request, gas, overrides)?.is_success())
    };
    let mut low = first.gas_used.saturating_sub(1);
    let mut high = cap;
    // Most calls succeed at gas_used plus the EIP-150 reserve: try that before searching.
    let optimistic = (first.gas_used + 2_300) * 64 / 63;
    if optimistic < high && succeeds(optimistic)? {
        high = optimistic;
    }
    while high - low > 1 && (high - low) * 1000 > high * 15 {
        let mid = low + (high - low) / 2;
        if succeeds(mid)? {
            high = mid;
        } else {
            low = mid;
        }
    }
    Ok(high)
}
