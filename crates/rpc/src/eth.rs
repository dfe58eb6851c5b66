//! The Ethereum JSON-RPC methods of one channel.

use crate::{
    backend::ChannelBackend,
    convert::{self, RpcBlock, RpcReceipt, RpcTransaction},
    errors,
    filters::{FilterKind, Filters},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256};
use alloy_rpc_types_eth::{
    BlockId, BlockNumberOrTag, FeeHistory, Filter, FilterBlockOption, FilterChanges, Index, Log,
    SyncStatus, TransactionRequest, state::StateOverride,
};
use jsonrpsee::{
    PendingSubscriptionSink, SubscriptionMessage,
    core::{RpcResult, SubscriptionResult},
    proc_macros::rpc,
    types::ErrorObjectOwned,
};
use ricaas_execution::{BlockContext, CallRequest};
use ricaas_storage::Snapshot;
use std::sync::Arc;

/// Widest block range one `eth_getLogs` may scan.
pub const MAX_LOG_BLOCK_RANGE: u64 = 100_000;
/// Most logs one `eth_getLogs` may return.
pub const MAX_LOGS: usize = 20_000;
/// Most blocks `eth_feeHistory` reports.
const MAX_FEE_HISTORY: u64 = 1024;

pub const CLIENT_VERSION: &str = concat!("RiCaaS/v", env!("CARGO_PKG_VERSION"), "/richain");

#[rpc(server)]
pub trait EthApi {
    #[method(name = "web3_clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    #[method(name = "net_version")]
    fn net_version(&self) -> RpcResult<String>;
    #[method(name = "net_listening")]
    fn net_listening(&self) -> RpcResult<bool>;
    #[method(name = "eth_chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    #[method(name = "eth_blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    #[method(name = "eth_syncing")]
    fn syncing(&self) -> RpcResult<SyncStatus>;
    #[method(name = "eth_accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    #[method(name = "eth_gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;
    #[method(name = "eth_maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;
    #[method(name = "eth_feeHistory")]
    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;

    #[method(name = "eth_getBlockByNumber", blocking)]
    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<RpcBlock>>;
    #[method(name = "eth_getBlockByHash", blocking)]
    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<RpcBlock>>;
    #[method(name = "eth_getBlockTransactionCountByNumber", blocking)]
    fn block_tx_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    #[method(name = "eth_getBlockTransactionCountByHash", blocking)]
    fn block_tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    #[method(name = "eth_getBlockReceipts", blocking)]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>>;

    #[method(name = "eth_getTransactionByHash", blocking)]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>>;
    #[method(name = "eth_getTransactionByBlockNumberAndIndex", blocking)]
    fn transaction_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<RpcTransaction>>;
    #[method(name = "eth_getTransactionByBlockHashAndIndex", blocking)]
    fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<RpcTransaction>>;
    #[method(name = "eth_getTransactionReceipt", blocking)]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>>;
    #[method(name = "eth_sendRawTransaction")]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;

    #[method(name = "eth_call", blocking)]
    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes>;
    #[method(name = "eth_estimateGas", blocking)]
    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64>;

    #[method(name = "eth_getBalance", blocking)]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    #[method(name = "eth_getCode", blocking)]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    #[method(name = "eth_getStorageAt", blocking)]
    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256>;
    #[method(name = "eth_getTransactionCount", blocking)]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;

    #[method(name = "eth_getLogs", blocking)]
    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;
    #[method(name = "eth_newFilter")]
    fn new_filter(&self, filter: Filter) -> RpcResult<U64>;
    #[method(name = "eth_newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U64>;
    #[method(name = "eth_getFilterChanges", blocking)]
    fn filter_changes(&self, id: U64) -> RpcResult<FilterChanges>;
    #[method(name = "eth_getFilterLogs", blocking)]
    fn filter_logs(&self, id: U64) -> RpcResult<Vec<Log>>;
    #[method(name = "eth_uninstallFilter")]
    fn uninstall_filter(&self, id: U64) -> RpcResult<bool>;

    #[subscription(name = "eth_subscribe" => "eth_subscription", unsubscribe = "eth_unsubscribe", item = serde_json::Value)]
    async fn subscribe(&self, kind: String, filter: Option<Filter>) -> SubscriptionResult;
}

/// The RPC handler of one channel.
pub struct EthRpc<B> {
    backend: Arc<B>,
    filters: Arc<Filters>,
}

impl<B> Clone for EthRpc<B> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            filters: self.filters.clone(),
        }
    }
}

impl<B: ChannelBackend> EthRpc<B> {
    pub fn new(backend: Arc<B>) -> Self {
        Self {
            backend,
            filters: Arc::new(Filters::default()),
        }
    }

    fn snapshot(&self) -> RpcResult<Snapshot> {
        self.backend.snapshot().map_err(errors::storage)
    }
}

fn head(snapshot: &Snapshot) -> RpcResult<u64> {
    snapshot
        .head_height()
        .ok_or_else(|| errors::server_error("chain has no genesis block yet"))
}

/// Resolves a tag to a committed height; `None` if the block does not exist (yet).
fn resolve_tag(snapshot: &Snapshot, tag: BlockNumberOrTag) -> RpcResult<Option<u64>> {
    let head = head(snapshot)?;
    Ok(match tag {
        // Finality is immediate: latest, safe and finalized are the same block. Pending blocks
        // are not exposed; "pending" reads the head (and the pool, where a method says so).
        BlockNumberOrTag::Latest
        | BlockNumberOrTag::Pending
        | BlockNumberOrTag::Safe
        | BlockNumberOrTag::Finalized => Some(head),
        BlockNumberOrTag::Earliest => Some(0),
        BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
    })
}

fn resolve_id(snapshot: &Snapshot, block: BlockId) -> RpcResult<Option<u64>> {
    match block {
        BlockId::Hash(hash) => snapshot
            .height_of(&hash.block_hash)
            .map_err(errors::storage),
        BlockId::Number(tag) => resolve_tag(snapshot, tag),
    }
}

/// State is kept for the head only; older blocks' state must be replayed elsewhere.
fn require_head_state(snapshot: &Snapshot, block: Option<BlockId>) -> RpcResult<()> {
    let head = head(snapshot)?;
    let block = block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
    match resolve_id(snapshot, block)? {
        Some(height) if height == head => Ok(()),
        Some(height) => Err(errors::server_error(format!(
            "state at block {height} is not available: this node keeps the state of the head block ({head}) only"
        ))),
        None => Err(errors::server_error(format!(
            "block {block} not found (head is {head})"
        ))),
    }
}

fn call_context(snapshot: &Snapshot) -> RpcResult<BlockContext> {
    let header = snapshot.head_header().map_err(errors::storage)?;
    Ok(BlockContext {
        height: header.height,
        timestamp_ms: header.timestamp_ms,
        parent_hash: header.parent_hash,
        beneficiary: header.beneficiary,
        gas_limit: header.gas_limit,
    })
}

fn call_request(request: &TransactionRequest) -> RpcResult<CallRequest> {
    if request.input.input.is_some()
        && request.input.data.is_some()
        && request.input.input != request.input.data
    {
        return Err(errors::invalid_params(
            "both 'input' and 'data' are set and differ; send one of them",
        ));
    }
    Ok(CallRequest {
        from: request.from,
        to: match request.to {
            Some(TxKind::Call(to)) => Some(to),
            _ => None,
        },
        gas: request.gas,
        gas_price: request.gas_price.or(request.max_fee_per_gas),
        value: request.value,
        input: request.input.input().cloned().unwrap_or_default(),
    })
}

fn block_at<B: ChannelBackend>(
    rpc: &EthRpc<B>,
    height: Option<u64>,
    full: bool,
) -> RpcResult<Option<RpcBlock>> {
    let Some(height) = height else {
        return Ok(None);
    };
    let snapshot = rpc.snapshot()?;
    if !full {
        // Hashes only: no transaction is decoded.
        let Some(header) = snapshot.header(height).map_err(errors::storage)? else {
            return Ok(None);
        };
        let hashes = snapshot
            .transaction_hashes(height)
            .map_err(errors::storage)?;
        return Ok(Some(convert::rpc_block_with_hashes(&header, hashes)));
    }
    let Some(block) = snapshot.block(height).map_err(errors::storage)? else {
        return Ok(None);
    };
    Ok(Some(convert::rpc_block(&block.header, &block.transactions)))
}

fn transaction_at(
    snapshot: &Snapshot,
    height: Option<u64>,
    index: usize,
) -> RpcResult<Option<RpcTransaction>> {
    let Some(height) = height else {
        return Ok(None);
    };
    let Some(header) = snapshot.header(height).map_err(errors::storage)? else {
        return Ok(None);
    };
    Ok(snapshot
        .transaction(height, index)
        .map_err(errors::storage)?
        .map(|tx| convert::rpc_transaction(&tx, Some((&header, index as u64)))))
}

fn receipts_at(snapshot: &Snapshot, height: u64) -> RpcResult<Option<Vec<RpcReceipt>>> {
    let Some(block) = snapshot.block(height).map_err(errors::storage)? else {
        return Ok(None);
    };
    let receipts = snapshot.receipts(height).map_err(errors::storage)?;
    let mut first_log_index = 0;
    Ok(Some(
        block
            .transactions
            .iter()
            .zip(&receipts)
            .enumerate()
            .map(|(i, (tx, receipt))| {
                let rpc = convert::rpc_receipt(&block.header, tx, receipt, i, first_log_index);
                first_log_index += receipt.logs.len();
                rpc
            })
            .collect(),
    ))
}

/// Logs matching `filter` in heights `[from, to]`, using the address index when the filter
/// names addresses and the header blooms otherwise.
pub(crate) fn logs_in_range(
    snapshot: &Snapshot,
    filter: &Filter,
    from: u64,
    to: u64,
) -> RpcResult<Vec<Log>> {
    if from > to {
        return Ok(Vec::new());
    }
    if to - from >= MAX_LOG_BLOCK_RANGE {
        return Err(errors::limit_exceeded(format!(
            "block range {from}..{to} spans more than {MAX_LOG_BLOCK_RANGE} blocks; query a narrower range"
        )));
    }
    let candidates: Vec<u64> = if filter.address.is_empty() {
        (from..=to).collect()
    } else {
        let mut heights = Vec::new();
        for address in filter.address.iter() {
            heights.extend(
                snapshot
                    .log_heights(address, from, to)
                    .map_err(errors::storage)?,
            );
        }
        heights.sort_unstable();
        heights.dedup();
        heights
    };
    let mut logs = Vec::new();
    for height in candidates {
        let Some(header) = snapshot.header(height).map_err(errors::storage)? else {
            continue;
        };
        if !filter.matches_bloom(header.logs_bloom) {
            continue;
        }
        let hashes = snapshot
            .transaction_hashes(height)
            .map_err(errors::storage)?;
        let receipts = snapshot.receipts(height).map_err(errors::storage)?;
        logs.extend(
            convert::block_logs(&header, &hashes, &receipts)
                .into_iter()
                .filter(|log| filter.matches(&log.inner)),
        );
        if logs.len() > MAX_LOGS {
            return Err(errors::limit_exceeded(format!(
                "query returns more than {MAX_LOGS} logs; query a narrower block range or add address/topic filters"
            )));
        }
    }
    Ok(logs)
}

fn to_json(value: &impl serde::Serialize) -> RpcResult<serde_json::Value> {
    serde_json::to_value(value)
        .map_err(|e| errors::server_error(format!("cannot encode notification: {e}")))
}

/// Heights a filter covers given the current head.
pub(crate) fn filter_range(snapshot: &Snapshot, filter: &Filter) -> RpcResult<Option<(u64, u64)>> {
    let head = head(snapshot)?;
    match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => Ok(snapshot
            .height_of(&hash)
            .map_err(errors::storage)?
            .map(|h| (h, h))),
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let resolve = |tag: Option<BlockNumberOrTag>| -> RpcResult<u64> {
                Ok(match tag.unwrap_or(BlockNumberOrTag::Latest) {
                    BlockNumberOrTag::Number(n) => n,
                    BlockNumberOrTag::Earliest => 0,
                    _ => head,
                })
            };
            let (from, to) = (resolve(from_block)?, resolve(to_block)?.min(head));
            if from > head {
                return Ok(None);
            }
            if from > to {
                return Err(errors::invalid_params(format!(
                    "fromBlock {from} is after toBlock {to}"
                )));
            }
            Ok(Some((from, to)))
        }
    }
}

#[jsonrpsee::core::async_trait]
impl<B: ChannelBackend> EthApiServer for EthRpc<B> {
    fn client_version(&self) -> RpcResult<String> {
        Ok(CLIENT_VERSION.to_string())
    }

    fn net_version(&self) -> RpcResult<String> {
        Ok(self.backend.rules().chain_id.to_string())
    }

    fn net_listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.backend.rules().chain_id))
    }

    fn block_number(&self) -> RpcResult<U64> {
        // The head announcement moves only after a commit's bookkeeping, so a client that has
        // already read a receipt from storage could see an older number there: answer from
        // the same snapshot every other read uses.
        Ok(U64::from(head(&self.snapshot()?)?))
    }

    fn syncing(&self) -> RpcResult<SyncStatus> {
        Ok(SyncStatus::None)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        // The node holds no user keys: clients sign locally.
        Ok(Vec::new())
    }

    fn gas_price(&self) -> RpcResult<U256> {
        Ok(U256::from(self.backend.min_gas_price()))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        // There is no fee market (base fee 0); validators need no tip to include a transaction.
        Ok(U256::ZERO)
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let snapshot = self.snapshot()?;
        let count = block_count.to::<u64>().min(MAX_FEE_HISTORY);
        if let Some(p) = &percentiles
            && (p.iter().any(|v| !(0.0..=100.0).contains(v)) || p.windows(2).any(|w| w[0] > w[1]))
        {
            return Err(errors::invalid_params(
                "reward percentiles must be ascending values between 0 and 100",
            ));
        }
        let newest = resolve_tag(&snapshot, newest)?
            .ok_or_else(|| errors::invalid_params("newest block is beyond the head"))?;
        let oldest = (newest + 1).saturating_sub(count);
        let mut gas_used_ratio = Vec::new();
        let mut reward = Vec::new();
        for height in oldest..=newest {
            if count == 0 {
                break;
            }
            let header = snapshot.header(height).map_err(errors::storage)?;
            let ratio = header.map_or(0.0, |h| {
                if h.gas_limit == 0 {
                    0.0
                } else {
                    h.gas_used as f64 / h.gas_limit as f64
                }
            });
            gas_used_ratio.push(ratio);
            if let Some(p) = &percentiles {
                reward.push(vec![0u128; p.len()]);
            }
        }
        let blocks = gas_used_ratio.len();
        Ok(FeeHistory {
            base_fee_per_gas: vec![0; blocks + 1],
            gas_used_ratio,
            base_fee_per_blob_gas: vec![0; blocks + 1],
            blob_gas_used_ratio: vec![0.0; blocks],
            oldest_block: oldest,
            reward: percentiles.map(|_| reward),
        })
    }

    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<RpcBlock>> {
        let height = resolve_tag(&self.snapshot()?, number)?;
        block_at(self, height, full)
    }

    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<RpcBlock>> {
        let height = self.snapshot()?.height_of(&hash).map_err(errors::storage)?;
        block_at(self, height, full)
    }

    fn block_tx_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        Ok(self
            .block_by_number(number, false)?
            .map(|b| U64::from(b.transactions.len())))
    }

    fn block_tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(self
            .block_by_hash(hash, false)?
            .map(|b| U64::from(b.transactions.len())))
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>> {
        let snapshot = self.snapshot()?;
        match resolve_id(&snapshot, block)? {
            Some(height) => receipts_at(&snapshot, height),
            None => Ok(None),
        }
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>> {
        let snapshot = self.snapshot()?;
        if let Some(location) = snapshot.tx_location(&hash).map_err(errors::storage)? {
            return transaction_at(&snapshot, Some(location.height), location.index as usize);
        }
        Ok(self
            .backend
            .pending_transaction(&hash)
            .map(|tx| convert::rpc_transaction(&tx, None)))
    }

    fn transaction_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<RpcTransaction>> {
        let snapshot = self.snapshot()?;
        let height = resolve_tag(&snapshot, number)?;
        transaction_at(&snapshot, height, index.0)
    }

    fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<RpcTransaction>> {
        let snapshot = self.snapshot()?;
        let height = snapshot.height_of(&hash).map_err(errors::storage)?;
        transaction_at(&snapshot, height, index.0)
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>> {
        let snapshot = self.snapshot()?;
        let Some(location) = snapshot.tx_location(&hash).map_err(errors::storage)? else {
            return Ok(None);
        };
        let index = location.index as usize;
        let (Some(header), Some(tx)) = (
            snapshot.header(location.height).map_err(errors::storage)?,
            snapshot
                .transaction(location.height, index)
                .map_err(errors::storage)?,
        ) else {
            return Ok(None);
        };
        let Some((receipt, first_log_index)) = snapshot
            .receipt(location.height, index)
            .map_err(errors::storage)?
        else {
            return Ok(None);
        };
        Ok(Some(convert::rpc_receipt(
            &header,
            &tx,
            &receipt,
            index,
            first_log_index,
        )))
    }

    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        self.backend
            .submit_raw_transaction(raw)
            .map_err(|rejected| {
                ErrorObjectOwned::owned(rejected.code, rejected.message, None::<()>)
            })
    }

    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes> {
        let snapshot = self.snapshot()?;
        require_head_state(&snapshot, block)?;
        let context = call_context(&snapshot)?;
        let request = call_request(&request)?;
        ricaas_execution::call(
            &snapshot,
            self.backend.rules(),
            &context,
            &request,
            overrides.as_ref(),
        )
        .map(|outcome| outcome.output)
        .map_err(errors::call)
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        let snapshot = self.snapshot()?;
        require_head_state(&snapshot, block)?;
        let context = call_context(&snapshot)?;
        let request = call_request(&request)?;
        ricaas_execution::estimate_gas(
            &snapshot,
            self.backend.rules(),
            &context,
            &request,
            overrides.as_ref(),
        )
        .map(U64::from)
        .map_err(errors::call)
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let snapshot = self.snapshot()?;
        require_head_state(&snapshot, block)?;
        Ok(snapshot
            .account(&address)
            .map_err(errors::storage)?
            .map(|a| a.balance)
            .unwrap_or_default())
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let snapshot = self.snapshot()?;
        require_head_state(&snapshot, block)?;
        let Some(account) = snapshot.account(&address).map_err(errors::storage)? else {
            return Ok(Bytes::new());
        };
        Ok(snapshot
            .code(&account.code_hash)
            .map_err(errors::storage)?
            .unwrap_or_default())
    }

    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256> {
        let snapshot = self.snapshot()?;
        require_head_state(&snapshot, block)?;
        Ok(B256::from(
            snapshot.storage(&address, &slot).map_err(errors::storage)?,
        ))
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)))
            && let Some(nonce) = self.backend.pending_nonce(&address)
        {
            return Ok(U64::from(nonce));
        }
        let snapshot = self.snapshot()?;
        require_head_state(&snapshot, block)?;
        Ok(U64::from(
            snapshot
                .account(&address)
                .map_err(errors::storage)?
                .map(|a| a.nonce)
                .unwrap_or_default(),
        ))
    }

    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        let snapshot = self.snapshot()?;
        match filter_range(&snapshot, &filter)? {
            Some((from, to)) => logs_in_range(&snapshot, &filter, from, to),
            None => Ok(Vec::new()),
        }
    }

    fn new_filter(&self, filter: Filter) -> RpcResult<U64> {
        let head = head(&self.snapshot()?)?;
        self.filters
            .install(FilterKind::Logs(Box::new(filter)), head)
    }

    fn new_block_filter(&self) -> RpcResult<U64> {
        let head = head(&self.snapshot()?)?;
        self.filters.install(FilterKind::Blocks, head)
    }

    fn filter_changes(&self, id: U64) -> RpcResult<FilterChanges> {
        let snapshot = self.snapshot()?;
        self.filters.changes(id, &snapshot)
    }

    fn filter_logs(&self, id: U64) -> RpcResult<Vec<Log>> {
        let snapshot = self.snapshot()?;
        let filter = self.filters.log_filter(id)?;
        match filter_range(&snapshot, &filter)? {
            Some((from, to)) => logs_in_range(&snapshot, &filter, from, to),
            None => Ok(Vec::new()),
        }
    }

    fn uninstall_filter(&self, id: U64) -> RpcResult<bool> {
        Ok(self.filters.uninstall(id))
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        filter: Option<Filter>,
    ) -> SubscriptionResult {
        let kind = match (kind.as_str(), filter) {
            ("newHeads", None) => FilterKind::Blocks,
            ("logs", filter) => FilterKind::Logs(Box::new(filter.unwrap_or_default())),
            ("newHeads", Some(_)) => {
                pending
                    .reject(errors::invalid_params("newHeads takes no filter"))
                    .await;
                return Ok(());
            }
            (other, _) => {
                pending
                    .reject(errors::invalid_params(format!(
                        "unsupported subscription {other:?}; supported: \"newHeads\", \"logs\""
                    )))
                    .await;
                return Ok(());
            }
        };
        let sink = pending.accept().await?;
        let mut heads = self.backend.head_watch();
        let mut last = *heads.borrow_and_update();
        loop {
            tokio::select! {
                _ = sink.closed() => return Ok(()),
                changed = heads.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
            }
            let head = *heads.borrow_and_update();
            let backend = self.backend.clone();
            let kind_for_task = kind.clone();
            // Reads from storage, not from a broadcast: a slow subscriber catches up instead of
            // missing blocks.
            let items =
                tokio::task::spawn_blocking(move || -> RpcResult<Vec<serde_json::Value>> {
                    let snapshot = backend.snapshot().map_err(errors::storage)?;
                    let mut items = Vec::new();
                    for height in last + 1..=head {
                        let Some(header) = snapshot.header(height).map_err(errors::storage)? else {
                            continue;
                        };
                        match &kind_for_task {
                            FilterKind::Blocks => {
                                items.push(to_json(&convert::rpc_header(&header))?)
                            }
                            FilterKind::Logs(filter) => {
                                if !filter.matches_bloom(header.logs_bloom) {
                                    continue;
                                }
                                for log in logs_in_range(&snapshot, filter, height, height)? {
                                    items.push(to_json(&log)?);
                                }
                            }
                        }
                    }
                    Ok(items)
                })
                .await??;
            last = head;
            for item in items {
                let message = SubscriptionMessage::from(serde_json::value::to_raw_value(&item)?);
                if sink.send(message).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}
