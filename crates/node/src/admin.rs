//! The node's admin API at `/admin` (JSON-RPC): which channels the node serves, and joining a
//! channel from its signed configuration. Every call needs an admin token (see
//! `ricaas_crypto::token::admin_token`) signed by an admin of the organization operating the
//! node, for this node's key.

use crate::{
    creation::SignedChannelConfig,
    node::{ChannelManager, ChannelSummary, check_signed_size},
};
use jsonrpsee::{RpcModule, types::ErrorObjectOwned};
use ricaas_crypto::ca::{self, Role};
use std::sync::Arc;

/// JSON-RPC error code of a refused admin request (the call was understood and is not allowed,
/// or its document does not hold).
pub const ADMIN_REFUSED_CODE: i32 = -32010;

fn refused(message: impl ToString) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(ADMIN_REFUSED_CODE, message.to_string(), None::<()>)
}

/// Whether `token` proves an admin of the node's organization is calling.
fn authorize(manager: &ChannelManager, token: Option<&str>) -> Result<(), String> {
    let (Some(network), Some(node)) = (manager.network(), manager.node_key()) else {
        return Err("this node has no admin API (no [network] section or no node key)".into());
    };
    let Some(token) = token else {
        return Err(format!(
            "send `Authorization: Bearer ricaas-admin.<expires>.<certificate>.<signature>`, signed by an admin of {} for node {node} (ricaas channel … --admin-cert --admin-key makes one)",
            network.org
        ));
    };
    let now = std::time::SystemTime::now();
    let certificate =
        ricaas_crypto::token::verify_admin_token(token, &node, crate::channel::unix_now_secs())
            .map_err(|e| e.to_string())?;
    let org_ca = network
        .ca_of(&network.org)
        .ok_or_else(|| format!("organization {} has no CA in [network]", network.org))?;
    let org_ca = ca::certificate_from_pem(org_ca).map_err(|e| e.to_string())?;
    ca::verify_issued(&org_ca, &certificate, now, &[]).map_err(|e| {
        format!(
            "the token's certificate is not a valid identity of {}: {e}",
            network.org
        )
    })?;
    if ca::role_of(&certificate) != Some(Role::Admin) {
        return Err(format!(
            "the token's certificate is not an admin of {}",
            network.org
        ));
    }
    Ok(())
}

/// Registers `/admin` on the node's RPC router.
pub(crate) fn serve_admin(manager: &Arc<ChannelManager>) {
    let mut module = RpcModule::new(manager.clone());
    let node_key = module.register_method("admin_nodeKey", |_, manager, _| {
        manager
            .node_key()
            .ok_or_else(|| refused("this node has no node key"))
    });
    if let Err(e) = node_key {
        tracing::error!(error = %e, "admin API methods could not be registered");
        return;
    }
    let channels = module.register_async_method("admin_channels", |_, manager, _| async move {
        Ok::<Vec<ChannelSummary>, ErrorObjectOwned>(manager.list().await)
    });
    let join = channels.map(|_| ()).and_then(|()| {
        module
            .register_async_method("admin_joinChannel", |params, manager, _| async move {
                let raw = params.as_str().unwrap_or_default();
                check_signed_size(raw.len()).map_err(refused)?;
                let (signed,): (SignedChannelConfig,) = params
                    .parse()
                    .map_err(|e| refused(format!("expected [signedChannelConfig]: {e}")))?;
                manager.join(signed).await.map_err(refused)
            })
            .map(|_| ())
    });
    if let Err(e) = join {
        tracing::error!(error = %e, "admin API methods could not be registered");
        return;
    }
    let gate = manager.clone();
    manager
        .router()
        .serve_admin(module, move |token| authorize(&gate, token));
}
