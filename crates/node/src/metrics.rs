//! What a node reports about each channel it serves, at `GET /metrics`: `ricaas_*` metrics
//! labelled `channel`, in the runtime's Prometheus registry beside the engine's own.
//!
//! Counters and histograms are updated where the work happens (admission, build, verify,
//! commit); the head, the pool and the storage size are read when the metrics are scraped, so
//! they are never stale.

use crate::{admission::AdmissionError, channel::Channel, mempool::PoolError};
use commonware_runtime::{
    Metrics,
    telemetry::metrics::{
        Counter, CounterFamily, EncodeMetric, Histogram, MetricEncoder, MetricType, MetricsExt,
        Registered,
    },
};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Weak},
    time::Duration,
};

/// Seconds, from a millisecond to the slowest a view could tolerate.
const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0,
];

/// Why admission refused a transaction: the `reason` label of
/// `ricaas_admission_rejections_total`. A closed set, so a flood of bad transactions cannot grow
/// the number of series.
pub(crate) fn rejection_reason(error: &AdmissionError) -> &'static str {
    match error {
        AdmissionError::Decode(_) => "undecodable",
        AdmissionError::MissingChainId { .. } | AdmissionError::WrongChainId { .. } => "chain_id",
        AdmissionError::Signature(_) => "signature",
        AdmissionError::GasLimitTooHigh { .. } => "gas_limit",
        AdmissionError::IntrinsicGasTooLow { .. } => "intrinsic_gas",
        AdmissionError::GasPriceTooLow { .. } => "gas_price",
        AdmissionError::InsufficientFunds { .. } => "insufficient_funds",
        AdmissionError::Permission(_) => "permission",
        AdmissionError::Pool(PoolError::NonceTooLow { .. }) => "nonce_too_low",
        AdmissionError::Pool(PoolError::NonceTaken { .. }) => "nonce_taken",
        AdmissionError::Pool(PoolError::SenderQueueFull { .. }) => "sender_queue_full",
        AdmissionError::Pool(PoolError::PoolFull { .. }) => "pool_full",
        AdmissionError::Pool(PoolError::StaleNonce { .. }) => "stale_nonce",
        AdmissionError::Storage(_) | AdmissionError::State(_) => "node_error",
    }
}

/// A gauge whose value is read when the metrics are scraped.
struct Live(Box<dyn Fn() -> i64 + Send + Sync>);

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

impl EncodeMetric for Live {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&(self.0)())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// One channel's metrics. Dropping it removes them from the registry.
pub(crate) struct ChannelMetrics {
    finalized_blocks: Counter,
    finalized_transactions: Counter,
    rejections: CounterFamily<[(&'static str, &'static str); 1]>,
    build: Histogram,
    verify: Histogram,
    commit: Histogram,
    _live: Vec<Registered<Live>>,
}

impl ChannelMetrics {
    /// Registers `channel`'s metrics on `runtime` (a context named `ricaas` carrying the
    /// `channel` attribute); `dir` is where its chain is stored.
    pub(crate) fn register(runtime: &impl Metrics, channel: &Arc<Channel>, dir: PathBuf) -> Self {
        let live = |name: &str, help: &str, read: Box<dyn Fn() -> i64 + Send + Sync>| {
            runtime.register(name, help, Live(read))
        };
        let reading = |read: fn(&Channel) -> i64| -> Box<dyn Fn() -> i64 + Send + Sync> {
            let channel: Weak<Channel> = Arc::downgrade(channel);
            Box::new(move || channel.upgrade().map(|c| read(&c)).unwrap_or(0))
        };
        Self {
            finalized_blocks: runtime.counter(
                "finalized_blocks",
                "Blocks this node committed as final since it started",
            ),
            finalized_transactions: runtime.counter(
                "finalized_transactions",
                "Transactions in the blocks this node committed as final since it started",
            ),
            rejections: runtime.family(
                "admission_rejections",
                "Transactions refused at admission, by reason",
            ),
            build: runtime.histogram(
                "block_build_seconds",
                "Time from deciding to propose a block to its seal: execution and seal for a BFT proposal; for a solo block, which executes while it is open, what is left to execute at the cut, then the seal and, alongside it, writing the block's contents",
                DURATION_BUCKETS,
            ),
            verify: runtime.histogram(
                "block_verify_seconds",
                "Time to re-execute a block another validator proposed",
                DURATION_BUCKETS,
            ),
            commit: runtime.histogram(
                "block_commit_seconds",
                "Time to make a finalized block durable (for a solo block, whose contents are written while it is sealed: the header and the commit)",
                DURATION_BUCKETS,
            ),
            _live: vec![
                live(
                    "height",
                    "Height of the channel's last committed block",
                    reading(|c| i64::try_from(c.head().height).unwrap_or(i64::MAX)),
                ),
                live(
                    "mempool_transactions",
                    "Transactions waiting in this node's pool (ready and queued behind a nonce gap)",
                    reading(|c| i64::try_from(c.pool_sizes().0).unwrap_or(i64::MAX)),
                ),
                live(
                    "mempool_ready_transactions",
                    "Transactions in this node's pool that the next block can include",
                    reading(|c| i64::try_from(c.pool_sizes().1).unwrap_or(i64::MAX)),
                ),
                live(
                    "admission_senders_recovered",
                    "Transaction senders admission recovered from signatures since the node started",
                    reading(|c| i64::try_from(c.admitted_senders().0).unwrap_or(i64::MAX)),
                ),
                live(
                    "admission_senders_vouched",
                    "Gossiped transaction senders admission took as vouched for by other validators (consensus.sender_trust) since the node started",
                    reading(|c| i64::try_from(c.admitted_senders().1).unwrap_or(i64::MAX)),
                ),
                live(
                    "block_senders_recovered",
                    "Transaction senders recovered from signatures while verifying blocks (transactions not in this node's pool) since the node started",
                    reading(|c| i64::try_from(c.block_senders().0).unwrap_or(i64::MAX)),
                ),
                live(
                    "admission_senders_remembered",
                    "Transaction senders admission took from a block's verification instead of recovering them again since the node started",
                    reading(|c| i64::try_from(c.block_senders().1).unwrap_or(i64::MAX)),
                ),
                live("storage_bytes", "Bytes of the channel's chain on disk", {
                    Box::new(move || i64::try_from(dir_size(&dir)).unwrap_or(i64::MAX))
                }),
            ],
        }
    }

    pub(crate) fn rejected(&self, error: &AdmissionError) {
        self.rejections
            .metric()
            .get_or_create(&[("reason", rejection_reason(error))])
            .inc();
    }

    pub(crate) fn built(&self, elapsed: Duration) {
        self.build.observe(elapsed.as_secs_f64());
    }

    pub(crate) fn verified(&self, elapsed: Duration) {
        self.verify.observe(elapsed.as_secs_f64());
    }

    pub(crate) fn committed(&self, transactions: usize, elapsed: Duration) {
        self.commit.observe(elapsed.as_secs_f64());
        self.finalized_blocks.inc();
        self.finalized_transactions.inc_by(transactions as u64);
    }
}

/// Bytes of the files under `dir` (0 where it cannot be read: a metric must not fail a scrape).
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pool_refusal_has_its_own_reason() {
        let sender = alloy_primitives::Address::ZERO;
        let reasons: std::collections::BTreeSet<&str> = [
            PoolError::NonceTooLow {
                sender,
                nonce: 0,
                next: 1,
            },
            PoolError::NonceTaken {
                sender,
                nonce: 0,
                existing: Default::default(),
            },
            PoolError::SenderQueueFull {
                sender,
                limit: 1,
                next: 0,
            },
            PoolError::PoolFull { limit: 1 },
            PoolError::StaleNonce {
                sender,
                read_at: 0,
                committed: 1,
            },
        ]
        .into_iter()
        .map(|e| rejection_reason(&AdmissionError::Pool(e)))
        .collect();
        assert_eq!(reasons.len(), 5);
    }

    #[test]
    fn the_size_of_a_directory_counts_nested_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a"), [0u8; 10]).expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub").join("b"), [0u8; 5]).expect("write");
        assert_eq!(dir_size(dir.path()), 15);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }
}
