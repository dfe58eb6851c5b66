//! Deterministic execution of RiChain blocks with revm at one pinned hardfork. Given a state
//! snapshot and ordered transactions it produces receipts, state changes and a sealed header;
//! it also answers read-only calls (`eth_call`, `eth_estimateGas`). It knows nothing of
//! networking or consensus and writes nothing: the caller commits what it returns.

mod block;
mod call;
mod state;
pub mod system;
mod tx_env;

pub use block::{
    BlockContext, BlockOutcome, ExecutionError, Mode, RejectedTx, TransactionsRoot, execute_block,
    seal_block, seal_header, verify_block,
};
pub use call::{CallError, CallOutcome, CallRequest, call, estimate_gas};
pub use state::StateReadError;

/// The hardfork every RiChain block executes under. Changing it is a chain upgrade, not a
/// configuration tweak: every node must agree on it.
pub const HARDFORK: revm::primitives::hardfork::SpecId = revm::primitives::hardfork::SpecId::OSAKA;

/// Chain-wide execution rules fixed in the channel's genesis configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainRules {
    pub chain_id: u64,
    /// Sum of gas limits a block may hold.
    pub block_gas_limit: u64,
    /// Largest gas limit a single transaction may ask for.
    pub tx_gas_limit: u64,
}

/// Least gas the transaction must offer to be executable at all (intrinsic gas, or the EIP-7623
/// calldata floor when that is higher).
pub fn intrinsic_gas(tx: &ricaas_primitives::RecoveredTx) -> u64 {
    let env = tx_env::tx_env(tx);
    let gas =
        revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx(&env, HARDFORK, None);
    (gas.initial_regular_gas + gas.initial_state_gas).max(gas.floor_gas)
}
