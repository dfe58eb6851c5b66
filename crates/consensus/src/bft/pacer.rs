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

/// Estimates the execution time of a block — a fixed cost plus a cost per transaction — from the
/// blocks this node built and verified, and turns it into a transaction cap for the blocks it
/// proposes.
#[derive(Debug)]
pub struct Pacer {
    budget: Duration,
    estimate: Mutex<Estimate>,
}

/// Recent costs, in nanoseconds. Each new block halves the weight of everything before it, so
/// the estimate follows a machine that slows down within a block or two.
#[derive(Debug, Default)]
struct Estimate {
    /// What a block costs whatever it holds, measured on empty blocks (`None` until one is
    /// seen: then every cost counts against the transactions, which errs on the small side).
    fixed: Option<f64>,
    /// Decayed sums of the time beyond the fixed cost, and of the transactions, of the blocks
    /// that held some. Their ratio is the cost per transaction: a ratio of sums rather than an
    /// average of ratios, so that a few costly transactions (an enrollment, a deployment) in a
    /// small block weigh as little as they are, and the next large block of cheap transfers
    /// sets the estimate right at once.
    time: f64,
    txs: f64,
}

/// How much of the past each new block keeps.
const DECAY: f64 = 0.5;

impl Pacer {
    /// A pacer keeping each block's execution within `budget`.
    pub fn new(budget: Duration) -> Self {
        Self {
            budget,
            estimate: Mutex::new(Estimate::default()),
        }
    }

    /// Records that executing (building or verifying) a block of `txs` transactions took
    /// `elapsed`, waiting for a thread included: a starved machine is a slow machine.
    pub fn observe(&self, txs: usize, elapsed: Duration) {
        let elapsed = elapsed.as_nanos() as f64;
        let mut estimate = self.estimate.lock();
        if txs == 0 {
            estimate.fixed = Some(
                estimate
                    .fixed
                    .map_or(elapsed, |f| DECAY * f + (1.0 - DECAY) * elapsed),
            );
            return;
        }
        let variable = (elapsed - estimate.fixed.unwrap_or(0.0)).max(0.0);
        estimate.time = DECAY * estimate.time + variable;
        estimate.txs = DECAY * estimate.txs + txs as f64;
    }

    /// The most transactions the next block should hold: at least [`MIN_BLOCK_TXS`]; unbounded
    /// before anything was measured (the channel's own limits apply).
    pub fn max_txs(&self) -> usize {
        let estimate = self.estimate.lock();
        if estimate.txs <= 0.0 || estimate.time <= 0.0 {
            return usize::MAX;
        }
        let per_tx = estimate.time / estimate.txs;
        let room = (self.budget.as_nanos() as f64 - estimate.fixed.unwrap_or(0.0)).max(0.0);
        ((room / per_tx) as usize).max(MIN_BLOCK_TXS)
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
        pacer.observe(0, 40 * MS);
        assert_eq!(
            pacer.max_txs(),
            usize::MAX,
            "empty blocks say nothing about transactions"
        );
    }

    #[test]
    fn a_few_costly_transactions_in_a_small_block_do_not_throttle_the_transfers_after_them() {
        let pacer = Pacer::new(1_000 * MS);
        // Five enrollments took 200 ms: 40 ms each, as far as the pacer can tell.
        pacer.observe(5, 200 * MS);
        assert_eq!(pacer.max_txs(), 25);
        // Then transfers at 30 us each: within a few blocks the cap is back in the thousands.
        for _ in 0..4 {
            let txs = pacer.max_txs().min(20_000);
            pacer.observe(txs, txs as u32 * Duration::from_micros(30));
        }
        assert!(pacer.max_txs() > 10_000, "cap: {}", pacer.max_txs());
    }

    #[test]
    fn fixed_costs_seen_on_empty_blocks_are_not_charged_to_transactions() {
        let pacer = Pacer::new(500 * MS);
        // An idle chain: empty blocks cost 40 ms each (state, roots, storage).
        for _ in 0..10 {
            pacer.observe(0, 40 * MS);
        }
        // Three transactions in 40.3 ms: 0.1 ms each, not 13 ms. 460 ms of room: 4,600 fit.
        pacer.observe(3, 40 * MS + Duration::from_micros(300));
        let cap = pacer.max_txs();
        assert!((4_500..=4_700).contains(&cap), "cap: {cap}");
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
