//! JSON-RPC error objects with the codes Ethereum clients understand.

use alloy_primitives::hex;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use ricaas_execution::CallError;
use ricaas_storage::StorageError;

pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
/// Server error used by Ethereum nodes for rejected transactions and unavailable data.
pub const SERVER_ERROR: i32 = -32000;
pub const LIMIT_EXCEEDED: i32 = -32005;
/// geth's code for a reverted call; `data` carries the revert payload.
pub const EXECUTION_REVERTED: i32 = 3;

pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(INVALID_PARAMS, message.into(), None::<()>)
}

pub fn server_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(SERVER_ERROR, message.into(), None::<()>)
}

pub fn limit_exceeded(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(LIMIT_EXCEEDED, message.into(), None::<()>)
}

pub fn storage(e: StorageError) -> ErrorObjectOwned {
    tracing::error!(error = %e, "storage failure while serving RPC");
    ErrorObject::owned(
        INTERNAL_ERROR,
        format!("internal storage error: {e}"),
        None::<()>,
    )
}

pub fn call(e: CallError) -> ErrorObjectOwned {
    match &e {
        CallError::Reverted { data, .. } => ErrorObject::owned(
            EXECUTION_REVERTED,
            e.to_string(),
            Some(format!("0x{}", hex::encode(data))),
        ),
        CallError::State(inner) => {
            tracing::error!(error = %inner, "state failure while serving eth_call");
            ErrorObject::owned(INTERNAL_ERROR, e.to_string(), None::<()>)
        }
        _ => server_error(e.to_string()),
    }
}
