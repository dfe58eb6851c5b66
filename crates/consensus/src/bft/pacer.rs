//! Block size by execution time: how many transactions a proposer puts in its next block so that
//! building it, and re-executing it on every validator, fits an execution budget that stays well
//! inside consensus' view timeouts on this machine, as it is loaded now.
//!
//! Why: view timeouts are fixed, and a backlog grows while views fail. Without a cap measured in
//! time, a block that took too long to verify makes the view time out, the backlog then grows,
//! and the next leader proposes an even larger block: the chain stops finalizing although every
//! validator is alive (seen with one validator down, when every quorum needs all the others).

use parking_lot::Mutex;
use std::time::Duration;

/// The cap never falls below this many transactions: a sample from a small block counts its
/// fixed costs as costs per transaction, and a cap of one would let a short stall (a machine
/// swapping, a descheduled process) shrink blocks to a trickle that then recovers slowly.
pub const MIN_BLOCK_TXS: usize = 16;

/// Estimates the execution time per transaction from the blocks this node built and verified,
/// and turns it into a transaction cap for the blocks it proposes.
#[derive(Debug)]
pub struct Pacer {
    budget: Duration,
    /// Exponentially weighted cost per transaction, in nanoseconds; `None` before any sample.
    per_tx_nanos: Mutex<Option<f64>>,
}

impl Pacer {
    /// A pacer keeping each block's execution within `budget`.
    pub fn new(budget: Duration) -> Self {
        Self {
            budget,
            per_tx_nanos: Mutex::new(None),
        }
    }

    /// Records that executing (building or verifying) a block of `txs` transactions took
    /// `elapsed`, waiting for a thread included: a starved machine is a slow machine.
    pub fn observe(&self, txs: usize, elapsed: Duration) {
        if txs == 0 {
            return;
        }
        let sample = elapsed.as_nanos() as f64 / txs as f64;
        let mut estimate = self.per_tx_nanos.lock();
        *estimate = Some(match *estimate {
            None => sample,
            // A slowdown is followed at once (the next view must not time out); a speedup is
            // followed gradually.
            Some(current) if sample > current => 0.5 * current + 0.5 * sample,
            Some(current) => 0.75 * current + 0.25 * sample,
        });
    }

    /// The most transactions the next block should hold: at least [`MIN_BLOCK_TXS`]; unbounded
    /// before anything was measured (the channel's own limits apply).
    pub fn max_txs(&self) -> usize {
        match *self.per_tx_nanos.lock() {
            None => usize::MAX,
            Some(per_tx) if per_tx <= 0.0 => usize::MAX,
            Some(per_tx) => ((self.budget.as_nanos() as f64 / per_tx) as usize).max(MIN_BLOCK_TXS),
        }
    }

    /// The execution budget per block.
    pub fn budget(&self) -> Duration {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn unmeasured_pacer_leaves_the_limit_to_the_channel() {
        let pacer = Pacer::new(500 * MS);
        assert_eq!(pacer.max_txs(), usize::MAX);
        pacer.observe(0, 900 * MS);
        assert_eq!(pacer.max_txs(), usize::MAX, "empty blocks say nothing");
    }

    #[test]
    fn the_cap_fits_the_budget_at_the_measured_rate() {
        let pacer = Pacer::new(500 * MS);
        // 1,000 transactions in 250 ms: 0.25 ms each, so 2,000 fit in 500 ms.
        pacer.observe(1_000, 250 * MS);
        assert_eq!(pacer.max_txs(), 2_000);
    }

    #[test]
    fn a_slowdown_shrinks_blocks_at_once_and_a_speedup_grows_them_gradually() {
        let pacer = Pacer::new(500 * MS);
        pacer.observe(1_000, 250 * MS);
        // The machine becomes 8 times slower (starved): the cap falls by more than half at once.
        pacer.observe(1_000, 2_000 * MS);
        let slowed = pacer.max_txs();
        assert!(slowed < 1_000, "cap after a slowdown: {slowed}");
        // Back to normal: the cap grows again, step by step, towards 2,000.
        let mut previous = slowed;
        for _ in 0..20 {
            pacer.observe(1_000, 250 * MS);
            let cap = pacer.max_txs();
            assert!(cap >= previous);
            previous = cap;
        }
        assert!(previous > 1_900, "cap after recovery: {previous}");
    }

    #[test]
    fn a_stall_cannot_pin_the_cap_below_the_floor_and_small_blocks_raise_it_again() {
        let pacer = Pacer::new(500 * MS);
        // One transaction that took a whole second (the machine stalled): the floor holds.
        pacer.observe(1, 1_000 * MS);
        assert_eq!(pacer.max_txs(), MIN_BLOCK_TXS);
        // Blocks at the floor, executed at the normal rate plus fixed costs, raise the cap
        // block by block until fixed costs no longer dominate.
        for _ in 0..60 {
            let txs = pacer.max_txs().min(5_000);
            pacer.observe(txs, 10 * MS + txs as u32 * Duration::from_micros(100));
        }
        assert!(pacer.max_txs() > 3_000, "cap: {}", pacer.max_txs());
    }
}
