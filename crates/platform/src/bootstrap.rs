//! Adopting a network created outside the platform (`ricaas up`): each organization becomes a
//! tenant whose CA, admin key and admin certificate move into its keystore and inventory, and
//! the network's channels become reachable. Runs once, when the platform is first created.

use crate::accounts::{AccountsError, InitialCredentials, Platform};

/// What an organization of a local network brings.
pub struct LocalOrg {
    pub name: String,
    pub ca_certificate_pem: String,
    pub ca_key_pem: String,
    pub admin_certificate_pem: String,
    pub admin_key_pem: String,
}

/// A channel of the local network and a node's JSON-RPC URL for it.
pub struct LocalChannel {
    pub network: String,
    pub name: String,
    pub rpc_url: String,
}

/// The local network itself: its settings and where each node answers.
pub struct LocalNetwork {
    pub spec: crate::networks::NetworkSpec,
    pub nodes: Vec<crate::networks::ExternalNode>,
}

/// The keystore name the adopted organization admin key gets.
pub const ADMIN_KEY: &str = "admin";

impl Platform {
    /// Creates a tenant per organization with the root credentials in `roots` (same order),
    /// imports its CA as the tenant's CA and its admin key and certificate, registers the
    /// channels, and the network with its nodes (run outside the platform) if given.
    pub async fn adopt_network(
        &self,
        orgs: &[LocalOrg],
        roots: &[InitialCredentials],
        channels: &[LocalChannel],
        network: Option<&LocalNetwork>,
    ) -> Result<(), AccountsError> {
        let mut members = Vec::with_capacity(orgs.len());
        for (org, root) in orgs.iter().zip(roots) {
            let tenant = self.create_tenant_with(root).await?;
            members.push((tenant.id.clone(), org.name.clone()));
            self.import_ca(&tenant.id, &org.ca_certificate_pem, &org.ca_key_pem, "ca")
                .await?;
            self.import_key(&tenant.id, ADMIN_KEY, &org.admin_key_pem)
                .await?;
            self.record_certificate(&tenant.id, &org.admin_certificate_pem, Some(ADMIN_KEY))
                .await?;
        }
        for channel in channels {
            self.register_channel(&channel.network, &channel.name, &channel.rpc_url)
                .await?;
        }
        if let Some(network) = network {
            self.register_external_network(&network.spec, &members, &network.nodes)
                .await?;
        }
        Ok(())
    }
}
