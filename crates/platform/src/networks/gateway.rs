//! The contract gateway: every registered contract is callable through REST, generated from
//! the ABI its registry entry holds. Arguments arrive as JSON (a list in parameter order, or an
//! object by parameter name) and are checked against the ABI before anything is signed: wrong
//! arity, wrong type and out-of-range values are refused saying which argument and why. An
//! invocation is signed by a custodial key of the caller's organization; a query is an
//! `eth_call`. Results, events and revert reasons come back decoded.

use crate::{
    accounts::{AccountsError, Platform},
    chain::Channel,
    ids::{ChannelId, InvocationId, NetworkId, TenantId},
    store::now_ms,
};
use alloy_dyn_abi::{
    DynSolType, DynSolValue, EventExt as _, FunctionExt as _, JsonAbiExt as _, Specifier as _,
};
use alloy_json_abi::{Function, JsonAbi, Param, StateMutability};
use alloy_primitives::{Address, B256, Bytes, LogData, TxKind};
use serde::Serialize;
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

/// Gas of a gateway invocation.
const INVOKE_GAS: u64 = 5_000_000;

/// How long the gateway reuses what it read of a contract from the registry (address and ABI)
/// before reading it again. A lifecycle or governance transaction this platform sends on the
/// channel ends the reuse at once; one sent by another platform or client is seen within this.
const CONTRACT_REUSE: Duration = Duration::from_secs(1);

/// Registry entries the gateway read, per (channel id, contract name): an invocation then
/// costs no registry read and no ABI parse, which at hundreds of calls per second is most of
/// what the gateway adds to a transaction. Calling a frozen or revoked contract is refused by
/// the chain, not here, so a reused entry can never let a refused call through.
#[derive(Clone, Default)]
pub struct GatewayContracts(Arc<parking_lot::Mutex<HashMap<(String, String), CachedContract>>>);

struct CachedContract {
    contract: Arc<GatewayContract>,
    read_at: Instant,
    /// The channel's governance writes (see `ChainSessions::governance_writes`) when read.
    governance_writes: u64,
}

impl GatewayContracts {
    fn get(
        &self,
        channel: &ChannelId,
        name: &str,
        governance_writes: u64,
    ) -> Option<Arc<GatewayContract>> {
        self.0
            .lock()
            .get(&(channel.to_string(), name.to_owned()))
            .filter(|cached| {
                cached.governance_writes == governance_writes
                    && cached.read_at.elapsed() < CONTRACT_REUSE
            })
            .map(|cached| cached.contract.clone())
    }

    fn put(&self, channel: &ChannelId, contract: Arc<GatewayContract>, governance_writes: u64) {
        let mut cached = self.0.lock();
        // Entries of contracts no longer called would otherwise stay: drop the stale ones.
        cached.retain(|_, c| c.read_at.elapsed() < CONTRACT_REUSE);
        cached.insert(
            (channel.to_string(), contract.name.clone()),
            CachedContract {
                contract,
                read_at: Instant::now(),
                governance_writes,
            },
        );
    }
}

/// Where a gateway call goes: the network, its channel, and the contract as registered.
struct Target {
    network: NetworkId,
    channel: Channel,
    contract: Arc<GatewayContract>,
}

/// A registered contract as the gateway calls it: where it is and its current ABI.
pub struct GatewayContract {
    pub name: String,
    pub address: Address,
    pub state: String,
    pub abi: JsonAbi,
}

/// An invocation through the gateway, as recorded: answered when it is sent, its outcome
/// filled in from the receipt (at once with `?confirm=true`, else when it is next read).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Invocation {
    /// Read it again at `…/contracts/{contract}/invocations/{id}`.
    #[schema(value_type = String)]
    pub id: InvocationId,
    pub contract: String,
    pub method: String,
    /// The custodial key that signed it.
    pub key: String,
    #[schema(value_type = String)]
    pub transaction_hash: B256,
    /// `submitted` (not awaited), `succeeded` or `reverted`.
    pub status: String,
    pub block_number: Option<u64>,
    pub gas_used: Option<u64>,
    /// The function's return values can only be read by a query; events are decoded here.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
    pub revert_reason: Option<String>,
    pub created_at: i64,
}

/// An invocation as stored: id, contract, method, key, hash, status, block, gas, events
/// (JSON), revert reason, created at.
type InvocationRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
);

const INVOCATION_COLUMNS: &str = "id, contract, method, key_name, transaction_hash, status, \
    block_number, gas_used, events, revert_reason, created_at";

fn invocation_from_row(row: InvocationRow) -> Result<Invocation, AccountsError> {
    let (id, contract, method, key, hash, status, block, gas, events, revert_reason, created_at) =
        row;
    Ok(Invocation {
        id: InvocationId::from_stored(id),
        contract,
        method,
        key,
        transaction_hash: hash
            .parse()
            .map_err(|_| AccountsError::Corrupt(format!("invocation hash {hash}")))?,
        status,
        block_number: block.and_then(|b| u64::try_from(b).ok()),
        gas_used: gas.and_then(|g| u64::try_from(g).ok()),
        events: events
            .and_then(|e| serde_json::from_str(&e).ok())
            .unwrap_or_default(),
        revert_reason,
        created_at,
    })
}

/// The outcome a receipt gives an invocation: status, block, gas, events, revert reason.
fn settle(invocation: &mut Invocation, contract: &GatewayContract, receipt: &Value) {
    let succeeded = receipt["status"] == "0x1";
    let number = |field: &str| {
        receipt[field]
            .as_str()
            .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
    };
    invocation.status = if succeeded { "succeeded" } else { "reverted" }.into();
    invocation.block_number = number("blockNumber");
    invocation.gas_used = number("gasUsed");
    invocation.events = decode_events(contract, receipt);
    invocation.revert_reason = (!succeeded).then(|| {
        crate::chain::revert_reason(receipt).unwrap_or_else(|| {
            custom_error(contract, receipt).unwrap_or_else(|| "no reason given".into())
        })
    });
}

impl Platform {
    /// Contract `name` of `network`, with the ABI of its current version.
    pub async fn gateway_contract(
        &self,
        tenant: &TenantId,
        network: &str,
        name: &str,
        key: &str,
    ) -> Result<Arc<GatewayContract>, AccountsError> {
        Ok(self.target(tenant, network, name, key).await?.contract)
    }

    /// The network and channel of contract `name` of `network` (if `tenant` is a member), and
    /// the contract as the registry holds it, read as `key` unless read just before.
    async fn target(
        &self,
        tenant: &TenantId,
        network: &str,
        name: &str,
        key: &str,
    ) -> Result<Target, AccountsError> {
        let (network_id, channel) = self.member_governance_channel(tenant, network).await?;
        let writes = self.chain_sessions().governance_writes(&channel.id);
        let contract = match self.gateway_contracts().get(&channel.id, name, writes) {
            Some(contract) => contract,
            None => {
                let record = self
                    .registry_entry(tenant, &channel, network, name, key)
                    .await?;
                let contract = Arc::new(gateway_contract(name, &record)?);
                self.gateway_contracts()
                    .put(&channel.id, contract.clone(), writes);
                contract
            }
        };
        Ok(Target {
            network: network_id,
            channel,
            contract,
        })
    }

    /// Calls `method` of contract `name` without a transaction; its decoded return values.
    pub async fn query_contract(
        &self,
        tenant: &TenantId,
        network: &str,
        name: &str,
        method: &str,
        args: &Value,
        key: &str,
    ) -> Result<Value, AccountsError> {
        let Target {
            channel, contract, ..
        } = self.target(tenant, network, name, key).await?;
        let function = find_function(&contract, method)?;
        let data = encode_call(function, args)?;
        let output = self
            .system_view(tenant, &channel, key, contract.address, data.into())
            .await
            .map_err(|e| match e {
                AccountsError::Unavailable(message) if message.contains("revert") => {
                    AccountsError::Conflict(format!("{name}.{method} reverted: {message}"))
                }
                other => other,
            })?;
        let values = function.abi_decode_output(&output).map_err(|e| {
            AccountsError::Conflict(format!(
                "{name}.{method} answered data its ABI cannot decode: {e}"
            ))
        })?;
        Ok(outputs_json(&function.outputs, values))
    }

    /// Sends `method` of contract `name` with `args`, signed by the caller's custodial `key`;
    /// with `confirm`, waits for the receipt and decodes its events and revert reason.
    #[allow(clippy::too_many_arguments)]
    pub async fn invoke_contract(
        &self,
        tenant: &TenantId,
        network: &str,
        name: &str,
        method: &str,
        args: &Value,
        key: &str,
        confirm: bool,
    ) -> Result<Invocation, AccountsError> {
        let Target {
            network: network_id,
            channel,
            contract,
        } = self.target(tenant, network, name, key).await?;
        let function = find_function(&contract, method)?;
        let data = encode_call(function, args)?;
        let hash = self
            .submit(
                tenant,
                &channel,
                key,
                TxKind::Call(contract.address),
                data.into(),
                INVOKE_GAS,
            )
            .await
            .map_err(|e| match e {
                // The node refused it at admission (permissions, nonce, size): say so plainly.
                AccountsError::Unavailable(message) => AccountsError::Conflict(format!(
                    "the channel refused the transaction: {message}"
                )),
                other => other,
            })?;
        let mut invocation = Invocation {
            id: InvocationId::generate(),
            contract: name.to_owned(),
            method: method.to_owned(),
            key: key.to_owned(),
            transaction_hash: hash,
            status: "submitted".into(),
            block_number: None,
            gas_used: None,
            events: Vec::new(),
            revert_reason: None,
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO contract_invocations (id, tenant_id, network_id, contract, method, key_name, \
             transaction_hash, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(invocation.id.as_str())
        .bind(tenant.as_str())
        .bind(network_id.as_str())
        .bind(name)
        .bind(method)
        .bind(key)
        .bind(hash.to_string())
        .bind("submitted")
        .bind(invocation.created_at)
        .execute(self.store().pool())
        .await?;
        if confirm {
            let receipt = self.await_receipt(tenant, &channel, key, hash).await?;
            settle(&mut invocation, &contract, &receipt);
            self.record_outcome(&invocation).await?;
        }
        Ok(invocation)
    }

    async fn record_outcome(&self, invocation: &Invocation) -> Result<(), AccountsError> {
        sqlx::query(
            "UPDATE contract_invocations SET status = $1, block_number = $2, gas_used = $3, \
             events = $4, revert_reason = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&invocation.status)
        .bind(invocation.block_number.and_then(|b| i64::try_from(b).ok()))
        .bind(invocation.gas_used.and_then(|g| i64::try_from(g).ok()))
        .bind(serde_json::to_string(&invocation.events).ok())
        .bind(&invocation.revert_reason)
        .bind(now_ms())
        .bind(invocation.id.as_str())
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// Invocation `id` of contract `name`, its outcome read from the chain if it was not yet.
    pub async fn invocation(
        &self,
        tenant: &TenantId,
        network: &str,
        name: &str,
        id: &str,
    ) -> Result<Invocation, AccountsError> {
        let network_id = self.network_id(tenant, network).await?;
        let not_found = || AccountsError::NotFound {
            what: "invocation",
            name: format!("{network}/{name}/{id}"),
        };
        let row: Option<InvocationRow> = sqlx::query_as(&format!(
            "SELECT {INVOCATION_COLUMNS} FROM contract_invocations \
             WHERE id = $1 AND tenant_id = $2 AND network_id = $3 AND contract = $4"
        ))
        .bind(id)
        .bind(tenant.as_str())
        .bind(network_id.as_str())
        .bind(name)
        .fetch_optional(self.store().pool())
        .await?;
        let mut invocation = invocation_from_row(row.ok_or_else(not_found)?)?;
        if invocation.status == "submitted" {
            let channel = self.governance_channel(&network_id).await?;
            if let Some(receipt) = self
                .receipt(
                    tenant,
                    &channel,
                    &invocation.key,
                    invocation.transaction_hash,
                )
                .await?
            {
                let contract = self
                    .gateway_contract(tenant, network, name, &invocation.key)
                    .await?;
                settle(&mut invocation, &contract, &receipt);
                self.record_outcome(&invocation).await?;
            }
        }
        Ok(invocation)
    }

    /// The newest invocations of contract `name` through the gateway by the tenant, `limit` of
    /// them (after invocation `after`, for the next page).
    pub async fn invocations(
        &self,
        tenant: &TenantId,
        network: &str,
        name: &str,
        query: &crate::page::ListQuery,
    ) -> Result<crate::page::Page<Invocation>, AccountsError> {
        let limit = query.limit().map_err(AccountsError::Invalid)?;
        let network_id = self.network_id(tenant, network).await?;
        // Newest first; a page continues below the (created_at, id) of the last one shown.
        let (before_time, before_id): (i64, String) = match &query.after {
            None => (i64::MAX, String::new()),
            Some(after) => sqlx::query_as(
                "SELECT created_at, id FROM contract_invocations WHERE id = $1 AND tenant_id = $2",
            )
            .bind(after)
            .bind(tenant.as_str())
            .fetch_optional(self.store().pool())
            .await?
            .ok_or_else(|| {
                AccountsError::Invalid(format!("after: no invocation {after} to continue from"))
            })?,
        };
        let rows: Vec<InvocationRow> = sqlx::query_as(&format!(
            "SELECT {INVOCATION_COLUMNS} FROM contract_invocations \
             WHERE tenant_id = $1 AND network_id = $2 AND contract = $3 \
             AND (created_at < $4 OR (created_at = $4 AND id < $5)) AND method LIKE $6 ESCAPE '\\' \
             ORDER BY created_at DESC, id DESC LIMIT $7"
        ))
        .bind(tenant.as_str())
        .bind(network_id.as_str())
        .bind(name)
        .bind(before_time)
        .bind(before_id)
        .bind(query.like())
        .bind(i64::from(limit) + 1)
        .fetch_all(self.store().pool())
        .await?;
        let items = rows
            .into_iter()
            .map(invocation_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::page::Page::from_rows(items, limit, |i| {
            i.id.to_string()
        }))
    }
}

/// A registry entry as the gateway calls it.
fn gateway_contract(name: &str, record: &Value) -> Result<GatewayContract, AccountsError> {
    let address = record["address"]
        .as_str()
        .and_then(|a| a.parse::<Address>().ok())
        .ok_or_else(|| {
            AccountsError::Conflict(format!(
                "contract {name} is not created yet: its deployment is waiting"
            ))
        })?;
    let abi_json = record["versions"]
        .as_array()
        .and_then(|v| v.last())
        .map(|v| v["abi"].clone())
        .unwrap_or(Value::Array(Vec::new()));
    let abi: JsonAbi = serde_json::from_value(abi_json).map_err(|e| {
        AccountsError::Invalid(format!("the registered ABI of {name} cannot be read: {e}"))
    })?;
    Ok(GatewayContract {
        name: name.to_owned(),
        address,
        state: record["state"].as_str().unwrap_or_default().to_owned(),
        abi,
    })
}

/// The function `method` names: a name (unique in the ABI) or a full signature.
pub fn find_function<'a>(
    contract: &'a GatewayContract,
    method: &str,
) -> Result<&'a Function, AccountsError> {
    let all: Vec<&Function> = contract.abi.functions().collect();
    if method.contains('(') {
        return all
            .into_iter()
            .find(|f| f.signature() == method)
            .ok_or_else(|| AccountsError::NotFound {
                what: "function",
                name: format!("{}.{method}", contract.name),
            });
    }
    let named: Vec<&Function> = all.into_iter().filter(|f| f.name == method).collect();
    match named.as_slice() {
        [] => Err(AccountsError::NotFound {
            what: "function",
            name: format!("{}.{method}", contract.name),
        }),
        [one] => Ok(one),
        several => Err(AccountsError::Invalid(format!(
            "{method} is overloaded: name one of {}",
            several
                .iter()
                .map(|f| f.signature())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The calldata of `function` with `args` (a list in order, or an object by name), each
/// checked against its parameter's type.
pub fn encode_call(function: &Function, args: &Value) -> Result<Vec<u8>, AccountsError> {
    let values = arguments(&function.name, &function.inputs, args)?;
    function.abi_encode_input(&values).map_err(|e| {
        AccountsError::Invalid(format!(
            "the arguments do not encode for {}: {e}",
            function.name
        ))
    })
}

/// A constructor's arguments, ABI-encoded to append to the creation code; none without a
/// constructor.
pub fn encode_constructor(abi: &Value, args: &Value) -> Result<Vec<u8>, AccountsError> {
    let abi: JsonAbi = serde_json::from_value(abi.clone())
        .map_err(|e| AccountsError::Invalid(format!("the ABI does not read as an ABI: {e}")))?;
    let inputs = abi.constructor.map(|c| c.inputs).unwrap_or_default();
    let values = arguments("the constructor", &inputs, args)?;
    Ok(DynSolValue::Tuple(values).abi_encode_params())
}

/// `args` (a list in parameter order, or an object by name) as values of `params`, each
/// refused with the argument, its type and the reason.
fn arguments(
    what: &str,
    params: &[Param],
    args: &Value,
) -> Result<Vec<DynSolValue>, AccountsError> {
    let describe = || {
        params
            .iter()
            .map(|p| format!("{} {}", p.ty, p.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let given: Vec<&Value> = match args {
        Value::Null => Vec::new(),
        Value::Array(list) => list.iter().collect(),
        Value::Object(map) => {
            if let Some(unknown) = map.keys().find(|k| !params.iter().any(|p| &p.name == *k)) {
                return Err(AccountsError::Invalid(format!(
                    "{} has no parameter {unknown:?}; it takes ({})",
                    what,
                    describe()
                )));
            }
            params
                .iter()
                .map(|p| {
                    map.get(&p.name).ok_or_else(|| {
                        AccountsError::Invalid(format!(
                            "{} needs argument {:?} ({}); it takes ({})",
                            what,
                            p.name,
                            p.ty,
                            describe()
                        ))
                    })
                })
                .collect::<Result<_, _>>()?
        }
        _ => {
            return Err(AccountsError::Invalid(
                "args must be a list (in parameter order) or an object (by parameter name)".into(),
            ));
        }
    };
    if given.len() != params.len() {
        return Err(AccountsError::Invalid(format!(
            "{} takes {} argument{} ({}), not {}",
            what,
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            describe(),
            given.len()
        )));
    }
    params
        .iter()
        .zip(given)
        .enumerate()
        .map(|(index, (param, value))| {
            let ty = param.resolve().map_err(|e| {
                AccountsError::Invalid(format!("parameter {} has an unknown type: {e}", param.name))
            })?;
            json_to_value(&ty, value).map_err(|reason| {
                let label = if param.name.is_empty() {
                    format!("argument {}", index + 1)
                } else {
                    format!("argument {} ({})", index + 1, param.name)
                };
                AccountsError::Invalid(format!("{label}, a {}: {reason}", param.ty))
            })
        })
        .collect::<Result<Vec<_>, _>>()
}

/// A JSON value as a value of Solidity type `ty`: numbers as JSON numbers or decimal/hex
/// strings, addresses and bytes as hex, arrays and tuples as lists.
fn json_to_value(ty: &DynSolType, value: &Value) -> Result<DynSolValue, String> {
    match (ty, value) {
        (DynSolType::Array(inner), Value::Array(items)) => Ok(DynSolValue::Array(
            items
                .iter()
                .map(|v| json_to_value(inner, v))
                .collect::<Result<_, _>>()?,
        )),
        (DynSolType::FixedArray(inner, len), Value::Array(items)) => {
            if items.len() != *len {
                return Err(format!("expected {len} items, got {}", items.len()));
            }
            Ok(DynSolValue::FixedArray(
                items
                    .iter()
                    .map(|v| json_to_value(inner, v))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (DynSolType::Tuple(types), Value::Array(items)) => {
            if items.len() != types.len() {
                return Err(format!(
                    "expected a tuple of {}, got {} items",
                    types.len(),
                    items.len()
                ));
            }
            Ok(DynSolValue::Tuple(
                types
                    .iter()
                    .zip(items)
                    .map(|(t, v)| json_to_value(t, v))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (DynSolType::Array(_) | DynSolType::FixedArray(..) | DynSolType::Tuple(_), _) => {
            Err("expected a list".into())
        }
        (DynSolType::Bool, Value::Bool(b)) => Ok(DynSolValue::Bool(*b)),
        (DynSolType::Bool, _) => Err("expected true or false".into()),
        (DynSolType::Int(_) | DynSolType::Uint(_), Value::Number(n)) => {
            if n.is_f64() {
                return Err(format!("{n} is not a whole number"));
            }
            ty.coerce_str(&n.to_string()).map_err(|e| e.to_string())
        }
        (_, Value::String(text)) => ty.coerce_str(text).map_err(|e| e.to_string()),
        (_, other) => Err(format!("expected a string, got {other}")),
    }
}

/// A decoded value as JSON: integers as decimal strings (they overflow JSON numbers), bytes and
/// addresses as hex.
pub fn value_json(value: &DynSolValue) -> Value {
    match value {
        DynSolValue::Bool(b) => Value::Bool(*b),
        DynSolValue::Int(i, _) => Value::String(i.to_string()),
        DynSolValue::Uint(u, _) => Value::String(u.to_string()),
        DynSolValue::FixedBytes(word, size) => {
            Value::String(format!("0x{}", hex::encode(&word[..*size])))
        }
        DynSolValue::Address(a) => Value::String(a.to_checksum(None)),
        DynSolValue::Function(f) => Value::String(format!("0x{}", hex::encode(f.as_slice()))),
        DynSolValue::Bytes(b) => Value::String(format!("0x{}", hex::encode(b))),
        DynSolValue::String(s) => Value::String(s.clone()),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) | DynSolValue::Tuple(items) => {
            Value::Array(items.iter().map(value_json).collect())
        }
    }
}

/// Return values by name where the ABI names them (`{"balance": "10"}`), else by position.
fn outputs_json(params: &[Param], values: Vec<DynSolValue>) -> Value {
    if !params.is_empty() && params.iter().all(|p| !p.name.is_empty()) {
        Value::Object(
            params
                .iter()
                .zip(&values)
                .map(|(p, v)| (p.name.clone(), value_json(v)))
                .collect(),
        )
    } else {
        Value::Array(values.iter().map(value_json).collect())
    }
}

/// The receipt's logs emitted by the contract, decoded with its ABI's events.
fn decode_events(contract: &GatewayContract, receipt: &Value) -> Vec<Value> {
    let Some(logs) = receipt["logs"].as_array() else {
        return Vec::new();
    };
    logs.iter()
        .filter(|log| {
            log["address"]
                .as_str()
                .and_then(|a| a.parse::<Address>().ok())
                == Some(contract.address)
        })
        .filter_map(|log| {
            let topics: Vec<B256> = serde_json::from_value(log["topics"].clone()).ok()?;
            let data: Bytes = serde_json::from_value(log["data"].clone()).ok()?;
            let event = contract
                .abi
                .events()
                .find(|e| !e.anonymous && topics.first() == Some(&e.selector()))?;
            let decoded = event
                .decode_log(&LogData::new_unchecked(topics, data))
                .ok()?;
            let (mut indexed, mut body) = (decoded.indexed.iter(), decoded.body.iter());
            let args: serde_json::Map<String, Value> = event
                .inputs
                .iter()
                .filter_map(|input| {
                    let value = if input.indexed {
                        indexed.next()
                    } else {
                        body.next()
                    }?;
                    Some((input.name.clone(), value_json(value)))
                })
                .collect();
            Some(json!({"event": event.name, "args": args}))
        })
        .collect()
}

/// A custom error of the contract's ABI that a reverted receipt carries, as `Name(args)`.
fn custom_error(contract: &GatewayContract, receipt: &Value) -> Option<String> {
    let data = hex::decode(receipt["revertReason"].as_str()?.trim_start_matches("0x")).ok()?;
    let selector = data.get(..4)?;
    let error = contract
        .abi
        .errors()
        .find(|e| e.selector().as_slice() == selector)?;
    let values = error.abi_decode_input(&data[4..]).ok()?;
    Some(format!(
        "{}({})",
        error.name,
        values
            .iter()
            .map(|v| value_json(v).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The contract's own OpenAPI document: an `invoke` path for every function that changes
/// state, a `query` path for every view, each with its parameters as the request body.
pub fn openapi_document(network: &str, contract: &GatewayContract) -> Value {
    let mut paths = serde_json::Map::new();
    for function in contract.abi.functions() {
        let read_only = matches!(
            function.state_mutability,
            StateMutability::View | StateMutability::Pure
        );
        let verb = if read_only { "query" } else { "invoke" };
        let path = format!(
            "/api/v1/networks/{network}/contracts/{}/{verb}/{}",
            contract.name,
            function.signature()
        );
        let properties: serde_json::Map<String, Value> = function
            .inputs
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    json!({"type": json_type(&p.ty), "description": format!("Solidity {}", p.ty)}),
                )
            })
            .collect();
        let mut body = json!({
            "type": "object",
            "properties": {
                "args": {"type": "object", "properties": properties,
                    "required": function.inputs.iter().map(|p| p.name.clone()).collect::<Vec<_>>()},
                "key": {"type": "string", "description": "Custodial key of your organization that signs (default admin)."}
            },
            "required": ["args"]
        });
        if read_only {
            body["properties"]["key"]["description"] =
                json!("Custodial key whose identity reads the chain (default admin).");
        }
        paths.insert(
            path,
            json!({"post": {
                "summary": format!("{} {}", if read_only { "Query" } else { "Invoke" }, function.signature()),
                "operationId": format!("{verb}_{}", function.name),
                "requestBody": {"required": true, "content": {"application/json": {"schema": body}}},
                "responses": {
                    "200": {"description": if read_only { "The decoded return values." } else { "The receipt (with ?confirm=true): status, events, revert reason." }},
                    "202": {"description": "Submitted: the transaction hash."},
                    "400": {"description": "An argument does not fit its parameter (which, and why)."},
                    "409": {"description": "Refused by the channel (e.g. the contract is frozen)."}
                }
            }}),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("{} on {network}", contract.name),
            "version": "1",
            "description": format!("Generated from the ABI the registry holds for {} at {} (state {}).", contract.name, contract.address, contract.state)
        },
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}]
    })
}

fn json_type(solidity: &str) -> &'static str {
    if solidity.ends_with(']') || solidity.starts_with('(') || solidity == "tuple" {
        "array"
    } else if solidity == "bool" {
        "boolean"
    } else {
        "string"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer() -> Function {
        Function::parse("function transfer(address to, uint256 value) returns (bool)")
            .expect("parses")
    }

    #[test]
    fn a_registry_entry_is_reused_until_a_governance_write_or_its_time_is_up() {
        let cache = GatewayContracts::default();
        let channel = ChannelId::from_stored("chan_a".into());
        let other = ChannelId::from_stored("chan_b".into());
        let contract = Arc::new(GatewayContract {
            name: "token".into(),
            address: Address::repeat_byte(0xaa),
            state: "normal".into(),
            abi: JsonAbi::new(),
        });
        assert!(
            cache.get(&channel, "token", 0).is_none(),
            "nothing read yet"
        );
        cache.put(&channel, contract.clone(), 0);
        let reused = cache.get(&channel, "token", 0).expect("reused");
        assert_eq!(reused.address, contract.address);
        // Another channel's contract of the same name is another entry.
        assert!(cache.get(&other, "token", 0).is_none());
        assert!(cache.get(&channel, "other", 0).is_none());
        // The platform sent a lifecycle or governance transaction on the channel since.
        assert!(cache.get(&channel, "token", 1).is_none());
        // Read longer ago than the reuse allows.
        cache.0.lock().values_mut().for_each(|cached| {
            cached.read_at = Instant::now() - CONTRACT_REUSE - Duration::from_millis(1);
        });
        assert!(cache.get(&channel, "token", 0).is_none());
        // Putting another drops the stale one.
        cache.put(&other, contract, 0);
        assert_eq!(cache.0.lock().len(), 1);
    }

    #[test]
    fn arguments_are_checked_against_the_abi_with_the_reason() {
        let f = transfer();
        let to = "0x00000000000000000000000000000000000000aa";
        let by_list = encode_call(&f, &json!([to, "1000"])).expect("encodes");
        let by_name = encode_call(&f, &json!({"to": to, "value": 1000})).expect("encodes");
        assert_eq!(by_list, by_name);
        assert_eq!(&by_list[..4], f.selector().as_slice());
        let refused = |args: Value| match encode_call(&f, &args) {
            Err(AccountsError::Invalid(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(
            refused(json!([to])).contains("takes 2 arguments (address to, uint256 value), not 1")
        );
        assert!(refused(json!(["nope", "1"])).contains("argument 1 (to), a address"));
        assert!(refused(json!([to, "-5"])).contains("argument 2 (value), a uint256"));
        assert!(refused(json!([to, 1.5])).contains("not a whole number"));
        assert!(refused(json!({"to": to})).contains("needs argument \"value\""));
        assert!(
            refused(json!({"to": to, "value": 1, "memo": "x"})).contains("no parameter \"memo\"")
        );
        let small = Function::parse("function set(uint8 level)").expect("parses");
        assert!(matches!(
            encode_call(&small, &json!([300])),
            Err(AccountsError::Invalid(_))
        ));
    }

    #[test]
    fn constructor_arguments_encode_after_the_code_and_are_checked_the_same_way() {
        let abi = json!([{"type": "constructor", "stateMutability": "nonpayable", "inputs": [
            {"name": "name_", "type": "string"}, {"name": "supply", "type": "uint256"}]}]);
        let encoded = encode_constructor(&abi, &json!(["Ledger", "1000"])).expect("encodes");
        let expected = DynSolValue::Tuple(vec![
            DynSolValue::String("Ledger".into()),
            DynSolValue::Uint(alloy_primitives::U256::from(1000), 256),
        ])
        .abi_encode_params();
        assert_eq!(encoded, expected);
        match encode_constructor(&abi, &json!(["Ledger"])) {
            Err(AccountsError::Invalid(message)) => {
                assert!(
                    message.contains("the constructor takes 2 arguments"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
        // No constructor: no arguments, nothing appended.
        assert!(
            encode_constructor(&json!([]), &json!([]))
                .expect("encodes")
                .is_empty()
        );
        assert!(encode_constructor(&json!({"not": "an abi"}), &json!([])).is_err());
    }
}
