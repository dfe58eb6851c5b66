//! The platform as a client of channels: the channels it may reach (an allowlist the operator
//! keeps, so tenants cannot point it at arbitrary addresses), and membership transactions
//! (`IMembership.enroll` / `revoke`) signed by a tenant's custodial admin key — only when an
//! account of that tenant asked, with `key:Sign` on that key.

use crate::{
    accounts::{AccountsError, Platform},
    certificates::Status,
    ids::{ChannelId, TenantId},
    keystore::{Algorithm, Scheme},
    store::now_ms,
};
use alloy_consensus::{SignableTransaction as _, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_sol_types::{SolCall as _, SolError as _};
use jsonrpsee::{
    core::client::ClientT,
    http_client::{HeaderMap, HeaderValue, HttpClient, HttpClientBuilder},
    rpc_params,
};
use ricaas_primitives::system::{
    GOVERNANCE_ADDRESS, IMembership, LIFECYCLE_ADDRESS, MEMBERSHIP_ADDRESS,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// How long the platform waits for a membership transaction to be committed.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the platform keeps between calls to channels: per (channel endpoint, sending address)
/// the next nonce behind an async lock held while a transaction is signed and sent, and per
/// (tenant, channel, key) a client carrying a read token, reused for [`CLIENT_REUSE`] instead
/// of signing a new token for every request.
#[derive(Clone, Default)]
pub struct ChainSessions {
    senders: std::sync::Arc<parking_lot::Mutex<HashMap<(String, Address), NonceLock>>>,
    clients: std::sync::Arc<parking_lot::Mutex<HashMap<ClientKey, CachedClient>>>,
    /// Per channel endpoint, its lowest gas price and when it was read.
    gas_prices: std::sync::Arc<parking_lot::Mutex<HashMap<String, (u128, std::time::Instant)>>>,
    /// Per channel id, how many governance and lifecycle transactions this platform sent: what
    /// was read from a channel's registries before one is not reused after it.
    governance_writes: std::sync::Arc<parking_lot::Mutex<HashMap<String, u64>>>,
}

/// (tenant, channel id, key name).
type ClientKey = (String, String, String);

type NonceLock = std::sync::Arc<tokio::sync::Mutex<Option<u64>>>;

/// A client, its channel's chain id, and when it was made.
type CachedClient = (ChannelClient, u64, std::time::Instant);

/// How long a channel client (and the read token it carries, valid ten minutes) is reused. A
/// key destroyed meanwhile can read for at most this long; it can sign nothing.
const CLIENT_REUSE: Duration = Duration::from_secs(60);

/// How long a channel's gas price is reused before it is read again. Governance may raise it:
/// a transaction refused as underpriced reads it again and is signed once more.
const GAS_PRICE_REUSE: Duration = Duration::from_secs(1);

impl ChainSessions {
    fn gas_price(&self, endpoint: &str) -> Option<u128> {
        self.gas_prices
            .lock()
            .get(endpoint)
            .filter(|(_, read)| read.elapsed() < GAS_PRICE_REUSE)
            .map(|(price, _)| *price)
    }

    /// How many governance and lifecycle transactions this platform has sent on `channel`.
    pub(crate) fn governance_writes(&self, channel: &ChannelId) -> u64 {
        self.governance_writes
            .lock()
            .get(channel.as_str())
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn sender(&self, endpoint: &str, address: Address) -> NonceLock {
        self.senders
            .lock()
            .entry((endpoint.to_owned(), address))
            .or_default()
            .clone()
    }
}

/// A channel the platform can reach.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Channel {
    #[schema(value_type = String)]
    pub id: ChannelId,
    /// `<network>/<name>`, as requests name it.
    pub channel: String,
    pub network: String,
    pub name: String,
    pub rpc_url: String,
    pub created_at: i64,
}

/// A certificate's enrolment on a channel.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    pub channel: String,
    /// The account the chain knows the identity by.
    pub account: String,
    /// The keystore key of the admin who enrolled it.
    pub admin_key: String,
    pub enroll_tx: String,
    pub enrolled_block: i64,
    pub enrolled_at: i64,
    pub revoke_tx: Option<String>,
    pub revoked_block: Option<i64>,
    pub revoked_at: Option<i64>,
}

fn unreachable_channel(channel: &str, e: impl std::fmt::Display) -> AccountsError {
    AccountsError::Unavailable(format!(
        "channel {channel} did not answer ({e}); check that its nodes run and retry"
    ))
}

fn quantity(value: &Value) -> Result<u64, AccountsError> {
    value
        .as_str()
        .and_then(|text| u64::from_str_radix(text.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| {
            AccountsError::Unavailable(format!("the channel answered {value}, not a quantity"))
        })
}

pub(crate) fn unix_seconds() -> u64 {
    (now_ms() / 1000).max(0) as u64
}

/// A JSON-RPC client of one channel, reading as one admin.
#[derive(Clone)]
struct ChannelClient {
    label: String,
    client: HttpClient,
}

impl ChannelClient {
    async fn request(
        &self,
        method: &str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> Result<Value, AccountsError> {
        self.client
            .request(method, params)
            .await
            .map_err(|e| unreachable_channel(&self.label, e))
    }
}

fn http_client(url: &str, token: Option<&str>) -> Result<HttpClient, AccountsError> {
    let mut headers = HeaderMap::new();
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| AccountsError::Corrupt(format!("read token header: {e}")))?;
        headers.insert("authorization", value);
    }
    HttpClientBuilder::default()
        .set_headers(headers)
        .request_timeout(Duration::from_secs(30))
        .build(url)
        .map_err(|e| AccountsError::Invalid(format!("channel URL {url}: {e}")))
}

/// Calls `method` of the admin API of the node at `node_url` (its JSON-RPC base URL) with
/// `token`; a refusal by the node is a [`AccountsError::Conflict`] with its reason.
pub(crate) async fn admin_call(
    node_url: &str,
    token: &str,
    method: &str,
    param: impl Serialize,
) -> Result<Value, AccountsError> {
    let url = format!("{}/admin", node_url.trim_end_matches('/'));
    let client = http_client(&url, Some(token))?;
    let mut params = jsonrpsee::core::params::ArrayParams::new();
    params
        .insert(param)
        .map_err(|e| AccountsError::Corrupt(format!("admin request: {e}")))?;
    client.request(method, params).await.map_err(|e| match e {
        jsonrpsee::core::ClientError::Call(refused) => {
            AccountsError::Conflict(format!("node {node_url} refused: {}", refused.message()))
        }
        other => AccountsError::Unavailable(format!("node {node_url}: {other}")),
    })
}

type ChannelRow = (String, String, String, String, i64);

fn channel_from_row((id, network, name, rpc_url, created_at): ChannelRow) -> Channel {
    Channel {
        id: ChannelId::from_stored(id),
        channel: format!("{network}/{name}"),
        network,
        name,
        rpc_url,
        created_at,
    }
}

impl Platform {
    /// Registers a channel the platform may reach (operator).
    pub async fn register_channel(
        &self,
        network: &str,
        name: &str,
        rpc_url: &str,
    ) -> Result<Channel, AccountsError> {
        crate::accounts::check_name("network", network)?;
        crate::accounts::check_name("channel", name)?;
        if !(rpc_url.starts_with("http://") || rpc_url.starts_with("https://"))
            || rpc_url.len() > 500
        {
            return Err(AccountsError::Invalid(
                "rpc_url must be an http:// or https:// URL of a node's channel endpoint".into(),
            ));
        }
        sqlx::query(
            "INSERT INTO channels (id, network, name, rpc_url, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(ChannelId::generate().as_str())
        .bind(network)
        .bind(name)
        .bind(rpc_url)
        .bind(now_ms())
        .execute(self.store().pool())
        .await
        .map_err(|e| crate::accounts::exists_or(e, "channel", &format!("{network}/{name}")))?;
        self.channel(&format!("{network}/{name}")).await
    }

    pub async fn channels(&self) -> Result<Vec<Channel>, AccountsError> {
        let rows: Vec<ChannelRow> = sqlx::query_as(
            "SELECT id, network, name, rpc_url, created_at FROM channels ORDER BY network, name",
        )
        .fetch_all(self.store().pool())
        .await?;
        Ok(rows.into_iter().map(channel_from_row).collect())
    }

    /// The channel `<network>/<name>`.
    pub async fn channel(&self, path: &str) -> Result<Channel, AccountsError> {
        let missing = || AccountsError::NotFound {
            what: "channel",
            name: path.to_owned(),
        };
        let (network, name) = path.split_once('/').ok_or_else(missing)?;
        let row: Option<ChannelRow> = sqlx::query_as(
            "SELECT id, network, name, rpc_url, created_at FROM channels WHERE network = $1 AND name = $2",
        )
        .bind(network)
        .bind(name)
        .fetch_optional(self.store().pool())
        .await?;
        row.map(channel_from_row).ok_or_else(missing)
    }

    /// A client of `channel` reading as the tenant's `admin_key` (a read token it signs).
    async fn channel_client(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        admin_key: &str,
    ) -> Result<(ChannelClient, u64), AccountsError> {
        let cache_key = (
            tenant.to_string(),
            channel.id.to_string(),
            admin_key.to_owned(),
        );
        if let Some((client, chain_id, made)) = self
            .chain_sessions()
            .clients
            .lock()
            .get(&cache_key)
            .cloned()
            && made.elapsed() < CLIENT_REUSE
        {
            return Ok((client, chain_id));
        }
        let plain = ChannelClient {
            label: channel.channel.clone(),
            client: http_client(&channel.rpc_url, None)?,
        };
        let chain_id = quantity(&plain.request("eth_chainId", rpc_params![]).await?)?;
        let expires = unix_seconds() + 600;
        let digest = ricaas_crypto::token::read_token_digest(&channel.name, chain_id, expires);
        let signature = self
            .sign(tenant, admin_key, &digest, Scheme::Ethereum)
            .await?;
        let bytes: [u8; 65] = hex::decode(signature.signature.trim_start_matches("0x"))
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| AccountsError::Corrupt("keystore signature".into()))?;
        let token = ricaas_crypto::token::read_token_from_signature(expires, &bytes);
        let client = ChannelClient {
            label: channel.channel.clone(),
            client: http_client(&channel.rpc_url, Some(&token))?,
        };
        let mut clients = self.chain_sessions().clients.lock();
        clients.retain(|_, (_, _, made)| made.elapsed() < CLIENT_REUSE);
        clients.insert(
            cache_key,
            (client.clone(), chain_id, std::time::Instant::now()),
        );
        Ok((client, chain_id))
    }

    /// Sends a call to the membership contract from `admin_key` and waits for its receipt;
    /// returns (transaction hash, block number).
    async fn membership_call(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        admin_key: &str,
        input: Bytes,
        gas: u64,
    ) -> Result<(String, i64), AccountsError> {
        let receipt = self
            .system_call(tenant, channel, admin_key, MEMBERSHIP_ADDRESS, input, gas)
            .await?;
        Ok((
            receipt["transactionHash"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            quantity(&receipt["blockNumber"])? as i64,
        ))
    }

    /// Reads system contract `to` (an `eth_call`) as the tenant's `admin_key` (which signs the
    /// read token, nothing else); returns the call's output.
    pub(crate) async fn system_view(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        admin_key: &str,
        to: Address,
        input: Bytes,
    ) -> Result<Bytes, AccountsError> {
        let (client, _) = self.channel_client(tenant, channel, admin_key).await?;
        let output = client
            .request(
                "eth_call",
                rpc_params![serde_json::json!({"to": to, "data": input}), "latest"],
            )
            .await?;
        serde_json::from_value(output)
            .map_err(|e| AccountsError::Unavailable(format!("the channel's answer to a read: {e}")))
    }

    /// Sends a call to system contract `to` signed by the tenant's `admin_key` and waits for its
    /// receipt, which it returns (a revert is a [`AccountsError::Conflict`] with the reason).
    pub(crate) async fn system_call(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        admin_key: &str,
        to: Address,
        input: Bytes,
        gas: u64,
    ) -> Result<Value, AccountsError> {
        self.transact(tenant, channel, admin_key, TxKind::Call(to), input, gas)
            .await
    }

    /// Sends a transaction (a call of `to`, or a contract creation) signed by the tenant's
    /// `admin_key` and waits for its receipt, which it returns (a revert is a
    /// [`AccountsError::Conflict`] with the reason).
    pub(crate) async fn transact(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        admin_key: &str,
        to: TxKind,
        input: Bytes,
        gas: u64,
    ) -> Result<Value, AccountsError> {
        let hash = self
            .submit(tenant, channel, admin_key, to, input, gas)
            .await?;
        let receipt = self.await_receipt(tenant, channel, admin_key, hash).await?;
        if receipt["status"] != "0x1" {
            let reason = revert_reason(&receipt).unwrap_or_else(|| "no reason given".into());
            let what = match to {
                TxKind::Call(MEMBERSHIP_ADDRESS) => "the membership contract".to_string(),
                TxKind::Call(GOVERNANCE_ADDRESS) => "the governance contract".to_string(),
                TxKind::Call(LIFECYCLE_ADDRESS) => "the lifecycle contract".to_string(),
                TxKind::Call(other) => format!("contract {other}"),
                TxKind::Create => "the contract's constructor".to_string(),
            };
            return Err(AccountsError::Conflict(format!(
                "{what} of {} refused transaction {hash}: {reason}",
                channel.channel
            )));
        }
        Ok(receipt)
    }

    /// Signs a transaction (a call of `to`, or a contract creation) with the tenant's key
    /// `key_name` and sends it; returns its hash once the channel admitted it.
    pub(crate) async fn submit(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        admin_key: &str,
        to: TxKind,
        input: Bytes,
        gas: u64,
    ) -> Result<B256, AccountsError> {
        let key = self.key(tenant, admin_key).await?;
        let Some(address) = key
            .address
            .as_deref()
            .and_then(|a| a.parse::<Address>().ok())
        else {
            return Err(AccountsError::Invalid(format!(
                "admin key {admin_key} is {}: membership transactions are signed by a secp256k1 admin key",
                serde_json::to_value(key.algorithm)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )));
        };
        debug_assert_eq!(key.algorithm, Algorithm::Secp256k1);
        let (client, chain_id) = self.channel_client(tenant, channel, admin_key).await?;
        let sessions = self.chain_sessions();
        let read_gas_price = || async {
            let price = u128::from(quantity(
                &client.request("eth_gasPrice", rpc_params![]).await?,
            )?);
            sessions
                .gas_prices
                .lock()
                .insert(channel.rpc_url.clone(), (price, std::time::Instant::now()));
            Ok::<_, AccountsError>(price)
        };
        let (mut gas_price, mut price_read) = match sessions.gas_price(&channel.rpc_url) {
            Some(price) => (price, false),
            None => (read_gas_price().await?, true),
        };
        // Concurrent requests signing with one key take nonces one after another: the lock is
        // held from choosing the nonce until the node admitted the transaction, so none is used
        // twice and none is skipped (a gap would hold every later transaction of the key in the
        // pool). The next nonce is remembered; the node is asked only when it is not known, or
        // when the node says it is too low (the key also sent transactions elsewhere).
        let sender = sessions.sender(&channel.rpc_url, address);
        let mut next_nonce = sender.lock().await;
        let mut asked_node = false;
        loop {
            let nonce = match *next_nonce {
                Some(nonce) => nonce,
                None => {
                    asked_node = true;
                    quantity(
                        &client
                            .request("eth_getTransactionCount", rpc_params![address, "pending"])
                            .await?,
                    )?
                }
            };
            let tx = TxLegacy {
                chain_id: Some(chain_id),
                nonce,
                gas_price,
                gas_limit: gas,
                to,
                value: U256::ZERO,
                input: input.clone(),
            };
            let digest = tx.signature_hash();
            let signed = self
                .sign_with_key(&key, digest.as_slice(), Scheme::Ethereum)
                .await?;
            let bytes = hex::decode(signed.signature.trim_start_matches("0x"))
                .map_err(|_| AccountsError::Corrupt("keystore signature".into()))?;
            let signature = alloy_primitives::Signature::from_raw(&bytes)
                .map_err(|e| AccountsError::Corrupt(format!("keystore signature: {e}")))?;
            let envelope = TxEnvelope::Legacy(tx.into_signed(signature));
            let raw = format!("0x{}", hex::encode(envelope.encoded_2718()));
            match client
                .request("eth_sendRawTransaction", rpc_params![raw])
                .await
            {
                Ok(answer) => {
                    let hash: B256 = serde_json::from_value(answer).map_err(|e| {
                        AccountsError::Unavailable(format!(
                            "the channel's answer to the transaction: {e}"
                        ))
                    })?;
                    *next_nonce = Some(nonce + 1);
                    if matches!(to, TxKind::Call(a) if a == GOVERNANCE_ADDRESS || a == LIFECYCLE_ADDRESS)
                    {
                        *sessions
                            .governance_writes
                            .lock()
                            .entry(channel.id.to_string())
                            .or_default() += 1;
                    }
                    return Ok(hash);
                }
                Err(e) => {
                    // Not admitted: the next attempt asks the node for the nonce.
                    *next_nonce = None;
                    let refused = |what: &str| matches!(&e, AccountsError::Unavailable(m) if m.contains(what));
                    if refused("nonce too low") && !asked_node {
                        continue;
                    }
                    if refused("below the channel's minimum") && !price_read {
                        gas_price = read_gas_price().await?;
                        price_read = true;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// The receipt of transaction `hash` if it is committed (read as the tenant's key `key`).
    pub(crate) async fn receipt(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        key: &str,
        hash: B256,
    ) -> Result<Option<Value>, AccountsError> {
        let (client, _) = self.channel_client(tenant, channel, key).await?;
        let receipt: Value = client
            .request("eth_getTransactionReceipt", rpc_params![hash])
            .await?;
        Ok((!receipt.is_null()).then_some(receipt))
    }

    /// The receipt of transaction `hash` once it is committed (read as the tenant's key
    /// `admin_key`), waiting at most [`RECEIPT_TIMEOUT`].
    pub(crate) async fn await_receipt(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        admin_key: &str,
        hash: B256,
    ) -> Result<Value, AccountsError> {
        let deadline = std::time::Instant::now() + RECEIPT_TIMEOUT;
        let receipt = loop {
            if let Some(receipt) = self.receipt(tenant, channel, admin_key, hash).await? {
                break receipt;
            }
            if std::time::Instant::now() > deadline {
                return Err(AccountsError::Unavailable(format!(
                    "transaction {hash} was not committed on {} within {} s; look it up later",
                    channel.channel,
                    RECEIPT_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        Ok(receipt)
    }

    /// Enrols the certificate `serial` on `channel` with a transaction signed by `admin_key`.
    pub async fn enroll_certificate(
        &self,
        tenant: &TenantId,
        serial: &str,
        channel_path: &str,
        admin_key: &str,
    ) -> Result<Enrolment, AccountsError> {
        let certificate = self.certificate(tenant, serial).await?;
        if certificate.status != Status::Valid {
            return Err(AccountsError::Conflict(format!(
                "certificate {serial} is {:?}: only valid certificates are enrolled",
                certificate.status
            )));
        }
        if certificate.role == "ca" {
            return Err(AccountsError::Invalid(
                "a CA certificate is a channel member's root, not an identity to enrol".into(),
            ));
        }
        let channel = self.channel(channel_path).await?;
        let parsed = ricaas_crypto::ca::certificate_from_pem(&certificate.certificate_pem)
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
        let account = ricaas_crypto::ca::account_of(&parsed).ok_or_else(|| {
            AccountsError::Invalid("this certificate's key has no account on chain".into())
        })?;
        let der = ricaas_crypto::ca::certificate_der(&parsed)
            .map_err(|e| AccountsError::Corrupt(e.to_string()))?;
        let input = IMembership::enrollCall {
            certificates: vec![Bytes::from(der)],
        }
        .abi_encode()
        .into();
        let (tx, block) = self
            .membership_call(tenant, &channel, admin_key, input, 170_000)
            .await?;
        sqlx::query(
            "INSERT INTO enrolments (certificate_id, channel_id, admin_key, account, enroll_tx, enrolled_block, enrolled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (certificate_id, channel_id) DO UPDATE SET admin_key = $3, account = $4, \
             enroll_tx = $5, enrolled_block = $6, enrolled_at = $7, revoke_tx = NULL, revoked_block = NULL, revoked_at = NULL",
        )
        .bind(certificate.id.as_str())
        .bind(channel.id.as_str())
        .bind(admin_key)
        .bind(account.to_string())
        .bind(tx)
        .bind(block)
        .bind(now_ms())
        .execute(self.store().pool())
        .await?;
        self.enrolments(tenant, serial)
            .await?
            .into_iter()
            .find(|e| e.channel == channel.channel)
            .ok_or_else(|| AccountsError::Corrupt("enrolment not recorded".into()))
    }

    /// Where certificate `serial` is enrolled.
    pub async fn enrolments(
        &self,
        tenant: &TenantId,
        serial: &str,
    ) -> Result<Vec<Enrolment>, AccountsError> {
        let certificate = self.certificate(tenant, serial).await?;
        type Row = (
            String,
            String,
            String,
            String,
            String,
            i64,
            i64,
            Option<String>,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT c.network, c.name, e.account, e.admin_key, e.enroll_tx, e.enrolled_block, e.enrolled_at, \
             e.revoke_tx, e.revoked_block, e.revoked_at FROM enrolments e JOIN channels c ON c.id = e.channel_id \
             WHERE e.certificate_id = $1 ORDER BY c.network, c.name",
        )
        .bind(certificate.id.as_str())
        .fetch_all(self.store().pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    network,
                    name,
                    account,
                    admin_key,
                    enroll_tx,
                    enrolled_block,
                    enrolled_at,
                    revoke_tx,
                    revoked_block,
                    revoked_at,
                )| Enrolment {
                    channel: format!("{network}/{name}"),
                    account,
                    admin_key,
                    enroll_tx,
                    enrolled_block,
                    enrolled_at,
                    revoke_tx,
                    revoked_block,
                    revoked_at,
                },
            )
            .collect())
    }

    /// Revokes certificate `serial`'s account on every channel it is enrolled on and not yet
    /// revoked, each with the admin key that enrolled it.
    pub async fn revoke_enrolments(
        &self,
        tenant: &TenantId,
        serial: &str,
    ) -> Result<Vec<Enrolment>, AccountsError> {
        for enrolment in self.enrolments(tenant, serial).await? {
            if enrolment.revoked_at.is_some() {
                continue;
            }
            let channel = self.channel(&enrolment.channel).await?;
            let account: Address = enrolment
                .account
                .parse()
                .map_err(|_| AccountsError::Corrupt("stored account".into()))?;
            let input = IMembership::revokeCall { account }.abi_encode().into();
            let (tx, block) = self
                .membership_call(tenant, &channel, &enrolment.admin_key, input, 60_000)
                .await?;
            sqlx::query(
                "UPDATE enrolments SET revoke_tx = $1, revoked_block = $2, revoked_at = $3 \
                 WHERE channel_id = $4 AND certificate_id = (SELECT id FROM certificates WHERE tenant_id = $5 AND serial = $6)",
            )
            .bind(tx)
            .bind(block)
            .bind(now_ms())
            .bind(channel.id.as_str())
            .bind(tenant.as_str())
            .bind(serial.to_ascii_lowercase())
            .execute(self.store().pool())
            .await?;
        }
        self.enrolments(tenant, serial).await
    }
}

/// The `Error(string)` reason of a reverted receipt (its `revertReason` data), if it has one.
pub(crate) fn revert_reason(receipt: &Value) -> Option<String> {
    receipt["revertReason"]
        .as_str()
        .and_then(|data| hex::decode(data.trim_start_matches("0x")).ok())
        .and_then(|data| alloy_sol_types::Revert::abi_decode(&data).ok())
        .map(|revert| revert.reason)
}
