//! `ricaas bench`: ERC-20 transfer throughput and finality latency of any Ethereum JSON-RPC
//! endpoint. It deploys a token, funds many senders, pre-signs every transfer, submits them with
//! the chosen concurrency and watches blocks until each transfer is final.

use alloy_consensus::{TxLegacy, TypedTransaction};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_sol_types::{SolCall, SolValue, sol};
use anyhow::{Context, anyhow, bail};
use jsonrpsee::{
    core::{client::ClientT, params::BatchRequestBuilder},
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
    ws_client::WsClientBuilder,
};
use ricaas_crypto::{DevKey, sign_transaction};
use serde_json::Value;
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

sol! {
    function transfer(address to, uint256 value) returns (bool);
}

const TOKEN_BYTECODE: &str = include_str!("../contracts/Token.bin");
const TRANSFER_GAS: u64 = 60_000;

#[derive(clap::Args, Clone)]
pub struct BenchArgs {
    /// JSON-RPC endpoint (http:// or ws://) to measure.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// Key file of a funded account (e.g. ricaas-data/keys/dev.key).
    #[arg(long, conflicts_with = "private_key")]
    key_file: Option<PathBuf>,
    /// Hex private key of a funded account (for endpoints such as anvil's dev accounts).
    #[arg(long)]
    private_key: Option<String>,
    /// Data directory of a RiCaaS network (`ricaas up`): the senders are certified by org1's
    /// CA and enrolled by org1's admin first, as a consortium channel admits members only.
    #[arg(long)]
    enroll_from: Option<PathBuf>,
    /// Number of ERC-20 transfers to submit.
    #[arg(long, default_value_t = 20_000)]
    txs: usize,
    /// Number of distinct sending accounts.
    #[arg(long, default_value_t = 500)]
    senders: usize,
    /// Concurrent submitters (connections).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Transactions per JSON-RPC request (1 = one eth_sendRawTransaction per request).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Threads the client's submitters and block watcher run on. One by default: the client
    /// shares the machine with the endpoint it measures, and a single thread serves its
    /// connections with the fewest wake-ups (pre-signing uses every core regardless).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Give up waiting for finality after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// Offered load in transactions per second (open loop: submissions are paced to this rate
    /// whatever the endpoint's speed). Without it, submitters send as fast as they are answered.
    #[arg(long)]
    rate: Option<f64>,
    /// More endpoints of the same chain (e.g. the other validators) to spread submissions over;
    /// submitter i uses endpoint i mod n. Blocks are watched on `--rpc`.
    #[arg(long, value_delimiter = ',')]
    also_submit_to: Vec<String>,
    /// Start submitting at this wall-clock time (Unix milliseconds), after the setup: several
    /// benches (one per channel) then load their channels at the same time.
    #[arg(long)]
    start_at_unix_ms: Option<u64>,
}

#[derive(Clone)]
pub(crate) enum Submitter {
    Http(HttpClient),
    Ws(Arc<jsonrpsee::ws_client::WsClient>),
}

impl Submitter {
    pub(crate) async fn request<R: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> anyhow::Result<R> {
        Ok(match self {
            Submitter::Http(c) => c.request(method, params).await?,
            Submitter::Ws(c) => c.request(method, params).await?,
        })
    }

    async fn send_batch(&self, raws: &[&str]) -> anyhow::Result<Vec<Result<B256, String>>> {
        let mut batch = BatchRequestBuilder::new();
        for raw in raws {
            batch.insert("eth_sendRawTransaction", rpc_params![raw])?;
        }
        let response = match self {
            Submitter::Http(c) => c.batch_request::<B256>(batch).await?,
            Submitter::Ws(c) => c.batch_request::<B256>(batch).await?,
        };
        Ok(response
            .into_iter()
            .map(|r| r.map_err(|e| e.message().to_string()))
            .collect())
    }
}

/// Where a submitter sends its transfers: a raw HTTP/1.1 connection for `http://` endpoints
/// (`crate::submit`: the cheapest client, so the machine's CPU goes to the endpoint measured),
/// jsonrpsee for WebSocket ones.
enum Lane {
    Http(crate::submit::Connection),
    Rpc(Submitter),
}

impl Lane {
    /// Each transaction's hash or refusal. Only a failure of the connection itself is an
    /// error: a refused transaction is counted, not fatal.
    async fn send_raw(&mut self, raws: &[&str]) -> anyhow::Result<Vec<Result<B256, String>>> {
        match self {
            Lane::Http(connection) => connection.send_raw(raws).await,
            Lane::Rpc(client) if raws.len() == 1 => Ok(vec![
                client
                    .request::<B256>("eth_sendRawTransaction", rpc_params![raws[0]])
                    .await
                    .map_err(|e| e.to_string()),
            ]),
            Lane::Rpc(client) => client.send_batch(raws).await,
        }
    }
}

/// `Authorization` headers: a read token of the bench's account for the endpoint's channel
/// (`/channels/<name>`, else `default`), as RiCaaS nodes require for queries.
fn read_headers(
    url: &str,
    key: &DevKey,
    chain_id: u64,
) -> anyhow::Result<jsonrpsee::http_client::HeaderMap> {
    let channel = url
        .split("/channels/")
        .nth(1)
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|name| !name.is_empty())
        .unwrap_or("default");
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        + 86_400;
    let token = ricaas_crypto::token::read_token(key, channel, chain_id, expires);
    let mut headers = jsonrpsee::http_client::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {token}").parse().context("header value")?,
    );
    Ok(headers)
}

/// Who a client reads as: an account's key and the chain id its read token names.
pub(crate) type Reader<'a> = Option<(&'a DevKey, u64)>;

fn headers_for(url: &str, reader: Reader<'_>) -> anyhow::Result<jsonrpsee::http_client::HeaderMap> {
    match reader {
        Some((key, chain_id)) => read_headers(url, key, chain_id),
        None => Ok(jsonrpsee::http_client::HeaderMap::new()),
    }
}

fn http_client(url: &str, concurrency: usize, reader: Reader<'_>) -> anyhow::Result<HttpClient> {
    Ok(HttpClientBuilder::default()
        .max_concurrent_requests(concurrency.max(8))
        .request_timeout(Duration::from_secs(60))
        .set_headers(headers_for(url, reader)?)
        .build(url)?)
}

/// A client of `url`; `reader` signs the read token queries need (none for `eth_chainId`).
pub(crate) async fn submitter(
    url: &str,
    concurrency: usize,
    reader: Reader<'_>,
) -> anyhow::Result<Submitter> {
    if url.starts_with("ws") {
        let client = WsClientBuilder::default()
            .max_concurrent_requests(4096)
            .set_headers(headers_for(url, reader)?)
            .build(url)
            .await?;
        Ok(Submitter::Ws(Arc::new(client)))
    } else {
        Ok(Submitter::Http(http_client(url, concurrency, reader)?))
    }
}

/// A `newHeads` subscription on the WebSocket endpoint beside `url` (`ws://` for `http://`,
/// the same host, port and path), with the client that keeps it open.
async fn head_subscription(
    url: &str,
    reader: Reader<'_>,
) -> anyhow::Result<(
    jsonrpsee::ws_client::WsClient,
    jsonrpsee::core::client::Subscription<Value>,
)> {
    use jsonrpsee::core::client::SubscriptionClientT;
    let ws_url = match url.split_once("://") {
        Some(("http", rest)) => format!("ws://{rest}"),
        Some(("https", rest)) => format!("wss://{rest}"),
        _ => url.to_string(),
    };
    let client = tokio::time::timeout(
        Duration::from_secs(5),
        WsClientBuilder::default()
            .set_headers(headers_for(url, reader)?)
            .build(&ws_url),
    )
    .await
    .map_err(|_| anyhow!("{ws_url} did not answer within 5 s"))??;
    let subscription = client
        .subscribe("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe")
        .await?;
    Ok((client, subscription))
}

pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn quantity(value: &Value) -> anyhow::Result<u64> {
    let text = value
        .as_str()
        .ok_or_else(|| anyhow!("expected a hex quantity, got {value}"))?;
    Ok(u64::from_str_radix(text.trim_start_matches("0x"), 16)?)
}

/// Signs a legacy EIP-155 transaction (what Caliper and most tools send); returns hash and raw hex.
pub(crate) fn sign(key: &DevKey, tx: TxLegacy) -> (B256, String) {
    let signed = sign_transaction(TypedTransaction::Legacy(tx), key.secret());
    (
        *signed.tx_hash(),
        format!("0x{}", hex::encode(signed.encoded_2718())),
    )
}

/// A call or creation at the bench's gas price.
pub(crate) struct Call {
    pub(crate) nonce: u64,
    pub(crate) gas: u64,
    pub(crate) to: TxKind,
    pub(crate) value: U256,
    pub(crate) input: Bytes,
}

pub(crate) fn legacy(chain_id: u64, gas_price: u128, call: Call) -> TxLegacy {
    TxLegacy {
        chain_id: Some(chain_id),
        nonce: call.nonce,
        gas_price,
        gas_limit: call.gas,
        to: call.to,
        value: call.value,
        input: call.input,
    }
}

pub(crate) async fn wait_receipt(
    client: &Submitter,
    hash: B256,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let receipt: Value = client
            .request("eth_getTransactionReceipt", rpc_params![hash])
            .await?;
        if !receipt.is_null() {
            return Ok(receipt);
        }
        if Instant::now() > deadline {
            bail!("no receipt for {hash} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The rate at which the chain finalized the load while it was under it: the transactions
/// finalized after the first block that held any, over the time from that block to the last.
/// Unlike `finalized_tps` (everything over submission start to last finality) it leaves out the
/// ramp-up and the finality tail of the last submissions, so a short run at a rate the chain
/// keeps up with reads as that rate rather than as `rate × T / (T + latency)`. `None` when the
/// load fit in one block.
fn sustained_tps(finalized: &HashMap<B256, Instant>) -> Option<f64> {
    let first = finalized.values().min()?;
    let last = finalized.values().max()?;
    let window = last.saturating_duration_since(*first).as_secs_f64();
    if window <= 0.0 {
        return None;
    }
    let after_first = finalized.values().filter(|at| *at > first).count();
    Some(after_first as f64 / window)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Certifies `senders` with org1's CA under `dir` and enrolls them from org1's admin, 100
/// certificates per transaction.
async fn enroll(
    control: &Submitter,
    dir: &std::path::Path,
    chain_id: u64,
    gas_price: u128,
    senders: &[DevKey],
) -> anyhow::Result<()> {
    let ca = ricaas_crypto::ca::CertificateAuthority::read_dir(&dir.join("orgs/org1/ca"))?;
    let admin = DevKey::read(&dir.join("keys/org1-admin.key"))?;
    let calls = senders
        .chunks(100)
        .map(|chunk| {
            Ok((
                ca.enroll_clients_call("bench", chunk, 7)?,
                100_000 + 70_000 * chunk.len() as u64,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    crate::member::send_membership_calls(control, &admin, chain_id, gas_price, calls).await?;
    Ok(())
}

/// The runtime `run` is driven on: `--client-threads` threads.
pub fn runtime(args: &BenchArgs) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = match args.client_threads {
        0 => bail!("--client-threads must be at least 1"),
        1 => tokio::runtime::Builder::new_current_thread(),
        threads => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads);
            builder
        }
    };
    Ok(builder.enable_all().build()?)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.senders > 0 && args.txs > 0 && args.concurrency > 0 && args.batch > 0,
        "counts must be positive"
    );
    let funder = match (&args.key_file, &args.private_key) {
        (Some(path), _) => DevKey::read(path)?,
        (None, Some(hex)) => DevKey::from_hex(hex)
            .ok_or_else(|| anyhow!("--private-key is not a 32-byte hex key"))?,
        (None, None) => bail!("give a funded account with --key-file or --private-key"),
    };
    let control = submitter(&args.rpc, args.concurrency, None).await?;
    let chain_id = quantity(
        &control
            .request::<Value>("eth_chainId", rpc_params![])
            .await?,
    )?;
    // eth_chainId needs no token; everything after reads as the funder.
    let reader = Some((&funder, chain_id));
    let control = submitter(&args.rpc, args.concurrency, reader).await?;
    let gas_price = quantity(
        &control
            .request::<Value>("eth_gasPrice", rpc_params![])
            .await?,
    )? as u128;
    let client_version: String = control
        .request("web3_clientVersion", rpc_params![])
        .await
        .unwrap_or_default();
    eprintln!(
        "bench: endpoint {} ({client_version}), chain id {chain_id}, gas price {gas_price}",
        args.rpc
    );

    // Deploy the token from the funder.
    let mut funder_nonce = quantity(
        &control
            .request::<Value>(
                "eth_getTransactionCount",
                rpc_params![funder.address(), "pending"],
            )
            .await?,
    )?;
    let supply = U256::from(10).pow(U256::from(30));
    let mut init = hex::decode(TOKEN_BYTECODE.trim()).context("embedded token bytecode")?;
    init.extend(("Bench".to_string(), "BNCH".to_string(), supply).abi_encode_params());
    let (deploy_hash, raw) = sign(
        &funder,
        legacy(
            chain_id,
            gas_price,
            Call {
                nonce: funder_nonce,
                gas: 3_000_000,
                to: TxKind::Create,
                value: U256::ZERO,
                input: init.into(),
            },
        ),
    );
    funder_nonce += 1;
    control
        .request::<B256>("eth_sendRawTransaction", rpc_params![raw])
        .await
        .context("deploying the token")?;
    let receipt = wait_receipt(&control, deploy_hash, Duration::from_secs(60)).await?;
    let token: Address =
        serde_json::from_value(receipt["contractAddress"].clone()).context("token address")?;
    eprintln!("bench: token deployed at {token}");

    // Fund the senders with tokens and, where gas costs something, with ether.
    let senders: Vec<DevKey> = (0..args.senders).map(|_| DevKey::random()).collect();
    let per_sender = args.txs.div_ceil(args.senders) as u64;
    let gas_money = U256::from(gas_price) * U256::from(TRANSFER_GAS) * U256::from(per_sender + 1);
    let mut last_funding = deploy_hash;
    let mut funding = Vec::new();
    for sender in &senders {
        let call = transferCall {
            to: sender.address(),
            value: U256::from(per_sender) * U256::from(1000),
        };
        let (hash, raw) = sign(
            &funder,
            legacy(
                chain_id,
                gas_price,
                Call {
                    nonce: funder_nonce,
                    gas: 100_000,
                    to: TxKind::Call(token),
                    value: U256::ZERO,
                    input: call.abi_encode().into(),
                },
            ),
        );
        funder_nonce += 1;
        funding.push(raw);
        last_funding = hash;
        if !gas_money.is_zero() {
            let (hash, raw) = sign(
                &funder,
                legacy(
                    chain_id,
                    gas_price,
                    Call {
                        nonce: funder_nonce,
                        gas: 21_000,
                        to: TxKind::Call(sender.address()),
                        value: gas_money,
                        input: Bytes::new(),
                    },
                ),
            );
            funder_nonce += 1;
            funding.push(raw);
            last_funding = hash;
        }
    }
    for chunk in funding.chunks(100) {
        let raws: Vec<&str> = chunk.iter().map(String::as_str).collect();
        for result in control.send_batch(&raws).await? {
            result.map_err(|e| anyhow!("funding transaction rejected: {e}"))?;
        }
    }
    wait_receipt(&control, last_funding, Duration::from_secs(120)).await?;
    eprintln!("bench: funded {} senders", senders.len());
    if let Some(dir) = &args.enroll_from {
        enroll(&control, dir, chain_id, gas_price, &senders).await?;
        eprintln!("bench: enrolled {} senders as org1 clients", senders.len());
    }

    // Pre-sign every transfer: sender k % S sends its (k / S)-th transaction.
    let sign_started = Instant::now();
    let signed: Vec<Vec<(B256, String)>> = std::thread::scope(|scope| {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let chunk = senders.len().div_ceil(workers);
        let handles: Vec<_> = senders
            .chunks(chunk)
            .enumerate()
            .map(|(c, keys)| {
                let args = &args;
                scope.spawn(move || {
                    keys.iter()
                        .enumerate()
                        .map(|(i, key)| {
                            let index = c * chunk + i;
                            let count = (args.txs / args.senders)
                                + usize::from(index < args.txs % args.senders);
                            (0..count as u64)
                                .map(|nonce| {
                                    let to = Address::from_word(alloy_primitives::keccak256(
                                        (index as u64 * 1_000_003 + nonce).to_be_bytes(),
                                    ));
                                    let call = transferCall {
                                        to,
                                        value: U256::from(1),
                                    };
                                    sign(
                                        key,
                                        legacy(
                                            chain_id,
                                            gas_price,
                                            Call {
                                                nonce,
                                                gas: TRANSFER_GAS,
                                                to: TxKind::Call(token),
                                                value: U256::ZERO,
                                                input: call.abi_encode().into(),
                                            },
                                        ),
                                    )
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let total: usize = signed.iter().map(Vec::len).sum();
    eprintln!(
        "bench: pre-signed {total} transfers in {:.2?}",
        sign_started.elapsed()
    );
    // Before any load, while the endpoint is idle: what a sender recovery costs this machine now.
    let probe_before = recovery_probe(&senders, &signed)?;
    eprintln!(
        "bench: this machine recovers a transfer's sender in {:.1} µs on one core",
        probe_before.as_secs_f64() * 1e6
    );

    if let Some(start_at) = args.start_at_unix_ms {
        let now = unix_ms();
        if now > start_at {
            eprintln!(
                "bench: setup ended {} ms after --start-at-unix-ms; submitting now",
                now - start_at
            );
        } else {
            tokio::time::sleep(Duration::from_millis(start_at - now)).await;
        }
    }

    // Watch blocks for finality while submitting.
    let watcher_client = submitter(&args.rpc, 2, reader).await?;
    let start_height = quantity(
        &watcher_client
            .request::<Value>("eth_blockNumber", rpc_params![])
            .await?,
    )?;
    // New heads are announced over WebSocket where the endpoint serves it (RiCaaS nodes and
    // anvil do, on the same port): a block is seen when it is committed, not up to a polling
    // interval later, which would add to every latency and to the last finality.
    let mut heads = match head_subscription(&args.rpc, reader).await {
        Ok(heads) => Some(heads),
        Err(e) => {
            eprintln!("bench: watching blocks by polling every 10 ms (no newHeads: {e})");
            None
        }
    };
    let subscribed = heads.is_some();
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let timeout = Duration::from_secs(args.timeout_secs);
    let expected = total;
    let watcher = tokio::spawn(async move {
        let mut finalized: HashMap<B256, Instant> = HashMap::with_capacity(expected);
        let mut next = start_height + 1;
        let deadline = Instant::now() + timeout;
        let mut announced: Option<(u64, Instant)> = None;
        while finalized.len() < expected && Instant::now() < deadline {
            // A block is final from when the endpoint says it is the head (announced, or
            // answered to the poll): reading which transfers it holds comes after.
            let (head, seen) = match announced.take() {
                Some(announcement) => announcement,
                None => {
                    let head = quantity(
                        &watcher_client
                            .request::<Value>("eth_blockNumber", rpc_params![])
                            .await?,
                    )?;
                    (head, Instant::now())
                }
            };
            while next <= head {
                let block: Value = watcher_client
                    .request(
                        "eth_getBlockByNumber",
                        rpc_params![format!("0x{next:x}"), false],
                    )
                    .await?;
                for hash in block["transactions"].as_array().into_iter().flatten() {
                    if let Ok(hash) = serde_json::from_value::<B256>(hash.clone()) {
                        finalized.insert(hash, seen);
                    }
                }
                next += 1;
            }
            match &mut heads {
                Some((_client, subscription)) => tokio::select! {
                    header = subscription.next() => match header {
                        Some(Ok(header)) => {
                            let at = Instant::now();
                            announced = quantity(&header["number"]).ok().map(|n| (n, at));
                        }
                        // The subscription ended: poll from here on.
                        _ => heads = None,
                    },
                    // A missed announcement costs at most this long.
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = done_rx.changed() => {}
                },
                None => tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                    _ = done_rx.changed() => {}
                },
            }
        }
        // Whether announcements lasted to the end, for saying how finality was seen.
        anyhow::Ok((finalized, heads.is_some()))
    });

    let submit_started = Instant::now();
    let submit_started_unix_ms = unix_ms();
    let mut tasks = Vec::new();
    let signed = Arc::new(signed);
    let endpoints: Vec<&String> = std::iter::once(&args.rpc)
        .chain(&args.also_submit_to)
        .collect();
    anyhow::ensure!(args.rate.is_none_or(|r| r > 0.0), "--rate must be positive");
    for worker in 0..args.concurrency {
        let endpoint = endpoints[worker % endpoints.len()];
        let mut lane = if endpoint.starts_with("http://") {
            Lane::Http(
                crate::submit::Connection::open(endpoint, headers_for(endpoint, reader)?).await?,
            )
        } else {
            Lane::Rpc(submitter(endpoint, args.concurrency, reader).await?)
        };
        let signed = signed.clone();
        let (concurrency, batch, rate) = (args.concurrency, args.batch, args.rate);
        tasks.push(tokio::spawn(async move {
            let mine: Vec<&Vec<(B256, String)>> =
                signed.iter().skip(worker).step_by(concurrency).collect();
            let rounds = mine.iter().map(|v| v.len()).max().unwrap_or(0);
            let mut order: Vec<&(B256, String)> = Vec::new();
            for round in 0..rounds {
                order.extend(mine.iter().filter_map(|v| v.get(round)));
            }
            let mut submitted = Vec::with_capacity(order.len());
            let mut errors = Vec::new();
            for (index, chunk) in order.chunks(batch).enumerate() {
                if let Some(rate) = rate {
                    // This chunk's place in the global submission order sets when it is due.
                    let position = (index * concurrency + worker) * batch;
                    let due = submit_started + Duration::from_secs_f64(position as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let raws: Vec<&str> = chunk.iter().map(|(_, raw)| raw.as_str()).collect();
                let at = Instant::now();
                let results = lane.send_raw(&raws).await.map_err(|e| e.to_string())?;
                for ((hash, _), result) in chunk.iter().zip(results) {
                    match result {
                        Ok(_) => submitted.push((*hash, at)),
                        Err(e) => errors.push(e),
                    }
                }
            }
            Ok::<_, String>((submitted, errors))
        }));
    }
    let mut submitted: HashMap<B256, Instant> = HashMap::with_capacity(total);
    let mut errors = Vec::new();
    for task in tasks {
        let (ok, failed) = task.await?.map_err(|e| anyhow!("submitter failed: {e}"))?;
        submitted.extend(ok);
        errors.extend(failed);
    }
    let submit_elapsed = submit_started.elapsed();
    done_tx.send_replace(true);
    let (finalized, announced_to_the_end) = watcher.await??;
    // And again once the load is over: the machine's speed moves within minutes, so the two
    // probes bracket the run.
    let probe_after = recovery_probe(&senders, &signed)?;
    let finality_from = match (subscribed, announced_to_the_end) {
        (true, true) => "newHeads",
        (true, false) => "newHeads, then polling",
        (false, _) => "polling",
    };

    let mut latencies: Vec<Duration> = submitted
        .iter()
        .filter_map(|(hash, at)| {
            finalized
                .get(hash)
                .map(|f| f.saturating_duration_since(*at))
        })
        .collect();
    latencies.sort();
    let last_final = finalized.values().max().copied().unwrap_or(submit_started);
    let final_elapsed = last_final.saturating_duration_since(submit_started);
    let sustained_tps = sustained_tps(&finalized);
    let result = serde_json::json!({
        "endpoint": args.rpc,
        "client_version": client_version,
        "transactions": total,
        "senders": args.senders,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "endpoints": endpoints.len(),
        "batch": args.batch,
        "accepted": submitted.len(),
        "rejected": errors.len(),
        "finalized": latencies.len(),
        "submit_seconds": submit_elapsed.as_secs_f64(),
        "submit_tps": submitted.len() as f64 / submit_elapsed.as_secs_f64().max(1e-9),
        "finalized_tps": latencies.len() as f64 / final_elapsed.as_secs_f64().max(1e-9),
        "sustained_tps": sustained_tps,
        "latency_p50_ms": percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        "latency_p99_ms": percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        // How finality was seen: a newHeads subscription, or polling eth_blockNumber.
        "finality_from": finality_from,
        // Decoding a pre-signed transfer and recovering its sender on one core, measured before
        // and after the load: most of a node's work per transfer, and what changes when the
        // machine does.
        "recovery_probe_us": probe_before.as_secs_f64() * 1e6,
        "recovery_probe_after_us": probe_after.as_secs_f64() * 1e6,
        // Wall-clock window, for adding up benches that ran side by side.
        "submit_started_unix_ms": submit_started_unix_ms,
        "last_final_unix_ms": submit_started_unix_ms + final_elapsed.as_millis() as u64,
    });
    if args.json {
        println!("{result}");
    } else {
        println!("endpoint:        {} ({client_version})", args.rpc);
        if !args.also_submit_to.is_empty() {
            println!("also submitted:  {}", args.also_submit_to.join(", "));
        }
        if let Some(rate) = args.rate {
            println!("offered rate:    {rate} tx/s");
        }
        println!(
            "transfers:       {total} from {} senders, concurrency {}, batch {}",
            args.senders, args.concurrency, args.batch
        );
        println!(
            "accepted:        {} ({} rejected)",
            submitted.len(),
            errors.len()
        );
        println!(
            "finalized:       {} (seen by {finality_from})",
            latencies.len()
        );
        println!(
            "submitted TPS:   {:.0}",
            result["submit_tps"].as_f64().unwrap_or_default()
        );
        println!(
            "finalized TPS:   {:.0}",
            result["finalized_tps"].as_f64().unwrap_or_default()
        );
        println!(
            "sustained TPS:   {}",
            sustained_tps.map_or("n/a (one block)".to_string(), |t| format!("{t:.0}"))
        );
        println!(
            "latency p50:     {:.1} ms",
            result["latency_p50_ms"].as_f64().unwrap_or_default()
        );
        println!(
            "latency p99:     {:.1} ms",
            result["latency_p99_ms"].as_f64().unwrap_or_default()
        );
        println!(
            "machine:         sender recovery {:.1} µs before the load, {:.1} µs after, on one core",
            result["recovery_probe_us"].as_f64().unwrap_or_default(),
            result["recovery_probe_after_us"]
                .as_f64()
                .unwrap_or_default()
        );
    }
    if let Some(first) = errors.first() {
        eprintln!("bench: first rejection: {first}");
    }
    if latencies.len() < total {
        bail!(
            "only {} of {total} transfers were final within {}s",
            latencies.len(),
            args.timeout_secs
        );
    }
    Ok(())
}

/// How many pre-signed transfers [`recovery_probe`] recovers, in how many slices: ~0.1 s on the
/// benchmark machines, and the median slice is what a descheduling in one slice leaves alone.
const RECOVERY_PROBE_TXS: usize = 2_000;
const RECOVERY_PROBE_SLICES: usize = 5;

/// The time this machine takes, on one core, to decode one of the pre-signed transfers and
/// recover its sender (libsecp256k1, as a node's admission does), the median over
/// [`RECOVERY_PROBE_SLICES`] slices. Every node spends most of its CPU on this, and the
/// benchmark machines' speed at it moves by half from hour to hour: printed beside each result,
/// it says what machine the result was measured on. Each recovered sender is checked against
/// the key that signed it, so the probe times recoveries that succeed.
fn recovery_probe(senders: &[DevKey], signed: &[Vec<(B256, String)>]) -> anyhow::Result<Duration> {
    let raws: Vec<(Address, Vec<u8>)> = senders
        .iter()
        .zip(signed)
        .flat_map(|(key, txs)| txs.iter().map(move |(_, raw)| (key.address(), raw)))
        .take(RECOVERY_PROBE_TXS)
        .map(|(sender, raw)| {
            let bytes = hex::decode(raw.trim_start_matches("0x"))?;
            Ok((sender, bytes))
        })
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(!raws.is_empty(), "no transfers to probe recovery with");
    let mut per_transfer = raws
        .chunks(raws.len().div_ceil(RECOVERY_PROBE_SLICES))
        .map(|slice| {
            let started = Instant::now();
            for (sender, raw) in slice {
                let envelope = alloy_consensus::TxEnvelope::decode_2718(&mut raw.as_slice())
                    .map_err(|e| anyhow!("a pre-signed transfer does not decode: {e}"))?;
                let recovered = ricaas_crypto::recover_transaction(envelope)
                    .map_err(|e| anyhow!("a pre-signed transfer's sender does not recover: {e}"))?;
                anyhow::ensure!(
                    recovered.sender() == *sender,
                    "a pre-signed transfer recovers to {} instead of its signer {sender}",
                    recovered.sender()
                );
            }
            Ok(started.elapsed() / slice.len() as u32)
        })
        .collect::<anyhow::Result<Vec<Duration>>>()?;
    per_transfer.sort();
    Ok(per_transfer[per_transfer.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recovery_probe_times_recoveries_that_match_their_signers() {
        let keys: Vec<DevKey> = (1u8..=3)
            .map(|i| DevKey::from_hex(&hex::encode([i; 32])).expect("key"))
            .collect();
        let transfer = |key: &DevKey, nonce| {
            sign(
                key,
                legacy(
                    1337,
                    0,
                    Call {
                        nonce,
                        gas: TRANSFER_GAS,
                        to: TxKind::Call(Address::repeat_byte(7)),
                        value: U256::ZERO,
                        input: Bytes::new(),
                    },
                ),
            )
        };
        let signed: Vec<Vec<(B256, String)>> = keys
            .iter()
            .map(|key| (0..4).map(|nonce| transfer(key, nonce)).collect())
            .collect();
        let per_recovery = recovery_probe(&keys, &signed).expect("every sender recovers");
        assert!(per_recovery > Duration::ZERO);
        // Transfers attributed to the wrong signer are refused, not timed.
        let mut swapped = signed.clone();
        swapped.swap(0, 1);
        let error = recovery_probe(&keys, &swapped).expect_err("senders differ");
        assert!(
            error.to_string().contains("instead of its signer"),
            "{error}"
        );
        // Bytes that are not a transaction are refused with what is wrong.
        let garbage = vec![vec![(B256::ZERO, "0x01020304".to_string())]];
        let error = recovery_probe(&keys, &garbage).expect_err("not a transaction");
        assert!(error.to_string().contains("does not decode"), "{error}");
    }

    #[test]
    fn sustained_rate_leaves_out_the_first_block_and_the_tail() {
        let start = Instant::now();
        let mut finalized = HashMap::new();
        // Three blocks half a second apart: 100, 300 and 300 transactions.
        for (block, count) in [(0u64, 100u64), (1, 300), (2, 300)] {
            let at = start + Duration::from_millis(500 * block);
            for i in 0..count {
                finalized.insert(B256::from(U256::from(block * 1_000 + i)), at);
            }
        }
        let rate = sustained_tps(&finalized).expect("three blocks");
        assert!((rate - 600.0).abs() < 1e-6, "{rate}");
        // One block gives no rate rather than an infinite one.
        let one: HashMap<B256, Instant> =
            [(B256::ZERO, start), (B256::repeat_byte(1), start)].into();
        assert_eq!(sustained_tps(&one), None);
        assert_eq!(sustained_tps(&HashMap::new()), None);
    }
}
