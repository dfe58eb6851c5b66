//! The solo sequencer: one node orders and finalizes alone. Finality is immediate.

use crate::{Application, Backlog, Ordering, OrderingError};
use std::{sync::Arc, time::Duration};
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct SoloConfig {
    /// Longest time between the starts of two blocks while the pool is not full: a transaction
    /// that arrives while a block is built waits for the next at most this long from that
    /// block's start (or until the block is committed, if that takes longer). A block is cut
    /// sooner when the pool fills or when the stream of transactions stops (`Stream` below).
    pub block_interval: Duration,
    /// Produce a block every interval even without transactions.
    pub empty_blocks: bool,
    /// Without `empty_blocks`, still follow each burst of activity with one empty block after
    /// the interval. Clients that wait for "a block after the one holding my transaction"
    /// (ethers' `tx.wait()` polls the block number and checks `head >= receipt block`, with a
    /// 250 ms cache) would otherwise stall on an idle chain. One block per burst, not per interval.
    pub trailing_empty_block: bool,
}

/// How often the sequencer looks at the pool while it batches: a full pool or a stopped stream
/// is seen within a few milliseconds, and the sequencer is not woken by every transaction.
const BATCH_POLL: Duration = Duration::from_millis(5);
/// A stream counts as stopped after no arrival for this many of its mean gaps: arrivals at
/// random (Poisson) times leave a gap that long with probability e^-10, so a stream that goes on
/// is almost never cut early, while the end of a burst is noticed within milliseconds.
const QUIET_GAPS: u32 = 10;
/// The shortest silence that ends a stream, however fast it was: a few polls, and more than a
/// scheduling hiccup of a busy machine.
const QUIET_FLOOR: Duration = Duration::from_millis(10);

/// The transactions that arrived since a block started (or since a burst woke an idle
/// sequencer), to tell a stream that goes on from one that has stopped. Once it has stopped,
/// holding the block open until the interval ends only delays what is already waiting: no peer
/// needs the time, and nothing more is coming to batch.
#[derive(Clone, Copy, Debug)]
struct Stream {
    since: Instant,
    base: u64,
    last: u64,
    last_at: Instant,
}

impl Stream {
    fn new(at: Instant, arrivals: u64) -> Self {
        Self {
            since: at,
            base: arrivals,
            last: arrivals,
            last_at: at,
        }
    }

    /// Records the application's arrival count as seen at `now`.
    fn observe(&mut self, now: Instant, arrivals: u64) {
        if arrivals > self.last {
            self.last = arrivals;
            self.last_at = now;
        }
    }

    /// Whether nothing has arrived for `QUIET_GAPS` mean gaps of this stream (at least
    /// `QUIET_FLOOR`, at most `longest`). A stream of one transaction or none has no rate and
    /// never counts as stopped: its block waits for the interval, as before.
    fn stopped(&self, now: Instant, longest: Duration) -> bool {
        let arrived = self.last.saturating_sub(self.base);
        if arrived == 0 {
            return false;
        }
        let mean_gap = (self.last_at - self.since) / u32::try_from(arrived).unwrap_or(u32::MAX);
        let quiet = mean_gap
            .saturating_mul(QUIET_GAPS)
            .max(QUIET_FLOOR)
            .min(longest);
        now.saturating_duration_since(self.last_at) >= quiet
    }
}

pub struct SoloSequencer {
    config: SoloConfig,
}

impl SoloSequencer {
    pub fn new(config: SoloConfig) -> Self {
        Self { config }
    }
}

impl Ordering for SoloSequencer {
    async fn run<A: Application>(
        self,
        app: Arc<A>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), OrderingError> {
        let interval = self.config.block_interval;
        let mut last_block = Instant::now();
        let mut trailing_due = false;
        let mut stream = Stream::new(last_block, app.arrivals());
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            // Wait for work (or, with empty blocks, for the interval).
            let mut allow_empty = self.config.empty_blocks;
            if app.backlog() == Backlog::Empty {
                let deadline = last_block + interval;
                let timed =
                    self.config.empty_blocks || (trailing_due && self.config.trailing_empty_block);
                tokio::select! {
                    _ = shutdown.changed() => continue,
                    _ = app.work_arrived() => {}
                    _ = tokio::time::sleep_until(deadline), if timed => allow_empty = true,
                }
                if app.backlog() == Backlog::Empty && !allow_empty {
                    continue;
                }
                // A burst begins: its rate counts from here, after its first transaction.
                stream = Stream::new(Instant::now(), app.arrivals());
            }
            // Batch until the block is full, the interval since the last block has passed, or
            // the stream of transactions has stopped. The block is open meanwhile: what arrives
            // executes while more is batched, instead of all at once after the cut.
            let deadline = last_block + interval;
            let opener = app.clone();
            let mut open = tokio::task::spawn_blocking(move || opener.open_block())
                .await
                .map_err(|e| OrderingError::Task(e.to_string()))?
                .map_err(|e| OrderingError::Application(e.to_string()))?;
            let mut filled = app
                .fill_block(&mut open)
                .map_err(|e| OrderingError::Application(e.to_string()))?;
            while !filled.full {
                let now = Instant::now();
                stream.observe(now, app.arrivals());
                if now >= deadline || stream.stopped(now, interval) {
                    break;
                }
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = tokio::time::sleep_until(deadline.min(now + BATCH_POLL)) => {}
                }
                filled = app
                    .fill_block(&mut open)
                    .map_err(|e| OrderingError::Application(e.to_string()))?;
            }
            // The interval runs from when a block is cut, not from when it is committed: under
            // steady load the next block starts as soon as this one is durable if finishing and
            // committing it took the interval or longer, instead of waiting a further interval
            // (or for a full pool) while the sequencer idles.
            let started = Instant::now();
            let arrivals_at_start = app.arrivals();
            let filled = app
                .fill_block(&mut open)
                .map_err(|e| OrderingError::Application(e.to_string()))?;
            let had_work = filled.transactions > 0;
            let worker = app.clone();
            let produced =
                tokio::task::spawn_blocking(move || worker.close_and_finalize(open, allow_empty))
                    .await
                    .map_err(|e| OrderingError::Task(e.to_string()))?
                    .map_err(|e| OrderingError::Application(e.to_string()))?;
            if produced {
                last_block = started;
                trailing_due = had_work;
                // Transactions that arrive while this block is built are the next block's stream.
                stream = Stream::new(started, arrivals_at_start);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Filled;
    use parking_lot::Mutex;
    use std::time::Instant as StdInstant;

    /// An application under steady load (transactions always waiting, never a full block) whose
    /// blocks take longer to build than the interval. Records when each build starts and each
    /// commit ends.
    struct SlowBuilder {
        build_time: Duration,
        starts: Mutex<Vec<StdInstant>>,
        commits: Mutex<Vec<StdInstant>>,
        blocks_wanted: usize,
        done: tokio::sync::Notify,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("never")]
    struct Never;

    impl Application for SlowBuilder {
        type Block = ();
        type Error = Never;
        type Open = ();

        fn backlog(&self) -> Backlog {
            Backlog::Partial
        }

        async fn work_arrived(&self) {
            std::future::pending::<()>().await
        }

        fn arrivals(&self) -> u64 {
            0
        }

        fn open_block(&self) -> Result<(), Never> {
            Ok(())
        }

        fn fill_block(&self, _open: &mut ()) -> Result<Filled, Never> {
            Ok(Filled {
                transactions: 1,
                full: false,
            })
        }

        fn close_block(&self, _open: (), _allow_empty: bool) -> Result<Option<()>, Never> {
            self.starts.lock().push(StdInstant::now());
            // Finishing and sealing the block: longer than the interval.
            std::thread::sleep(self.build_time);
            Ok(Some(()))
        }

        fn verify(&self, _block: &()) -> Result<(), Never> {
            Ok(())
        }

        fn finalize(&self, _block: ()) -> Result<(), Never> {
            let mut commits = self.commits.lock();
            commits.push(StdInstant::now());
            if commits.len() == self.blocks_wanted {
                self.done.notify_one();
            }
            Ok(())
        }
    }

    /// Under steady load, when a block takes longer than the interval to build and commit, the
    /// next one starts as soon as it is committed: the interval runs from the start of a block,
    /// so the sequencer never idles for a further interval while transactions wait. (Waiting
    /// from the commit instead, every gap below was at least the interval.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_next_block_starts_when_the_last_is_committed_if_it_took_the_interval() {
        let interval = Duration::from_millis(200);
        let app = Arc::new(SlowBuilder {
            build_time: Duration::from_millis(300),
            starts: Mutex::new(Vec::new()),
            commits: Mutex::new(Vec::new()),
            blocks_wanted: 4,
            done: tokio::sync::Notify::new(),
        });
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let sequencer = SoloSequencer::new(SoloConfig {
            block_interval: interval,
            empty_blocks: false,
            trailing_empty_block: false,
        });
        let running = tokio::spawn(sequencer.run(app.clone(), shutdown));
        tokio::time::timeout(Duration::from_secs(30), app.done.notified())
            .await
            .expect("four blocks within 30 s");
        stop.send(true).expect("the sequencer is running");
        running
            .await
            .expect("the sequencer task")
            .expect("the sequencer stops cleanly");
        let starts = app.starts.lock().clone();
        let commits = app.commits.lock().clone();
        for (block, (commit, next)) in commits.iter().zip(&starts[1..]).enumerate() {
            let idle = next.saturating_duration_since(*commit);
            assert!(
                idle < interval,
                "block {} started {idle:?} after block {block} was committed: the sequencer \
                 waited although transactions were waiting and the interval had passed",
                block + 1
            );
        }
    }

    /// A pool that a test fills by hand; records when each block is proposed.
    #[derive(Default)]
    struct HandFed {
        arrivals: std::sync::atomic::AtomicU64,
        pending: std::sync::atomic::AtomicU64,
        work: tokio::sync::Notify,
        proposed: Mutex<Vec<StdInstant>>,
        committed: tokio::sync::Notify,
    }

    impl HandFed {
        fn send(&self) {
            use std::sync::atomic::Ordering::Relaxed;
            self.pending.fetch_add(1, Relaxed);
            self.arrivals.fetch_add(1, Relaxed);
            self.work.notify_one();
        }
    }

    impl Application for HandFed {
        type Block = ();
        type Error = Never;
        type Open = u64;

        fn backlog(&self) -> Backlog {
            match self.pending.load(std::sync::atomic::Ordering::Relaxed) {
                0 => Backlog::Empty,
                _ => Backlog::Partial,
            }
        }

        async fn work_arrived(&self) {
            self.work.notified().await
        }

        fn arrivals(&self) -> u64 {
            self.arrivals.load(std::sync::atomic::Ordering::Relaxed)
        }

        fn open_block(&self) -> Result<u64, Never> {
            Ok(0)
        }

        fn fill_block(&self, open: &mut u64) -> Result<Filled, Never> {
            *open += self.pending.swap(0, std::sync::atomic::Ordering::Relaxed);
            Ok(Filled {
                transactions: usize::try_from(*open).unwrap_or(usize::MAX),
                full: false,
            })
        }

        fn close_block(&self, open: u64, allow_empty: bool) -> Result<Option<()>, Never> {
            if open == 0 && !allow_empty {
                return Ok(None);
            }
            self.proposed.lock().push(StdInstant::now());
            Ok(Some(()))
        }

        fn verify(&self, _block: &()) -> Result<(), Never> {
            Ok(())
        }

        fn finalize(&self, _block: ()) -> Result<(), Never> {
            self.committed.notify_one();
            Ok(())
        }
    }

    /// When a burst of transactions ends, its block is cut within milliseconds instead of
    /// waiting out the interval (ten seconds here): nothing more is coming to batch. (Before
    /// the stream was watched, the block waited for the interval and this test timed out.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_block_is_cut_soon_after_a_burst_of_transactions_stops() {
        let app = Arc::new(HandFed::default());
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let sequencer = SoloSequencer::new(SoloConfig {
            block_interval: Duration::from_secs(10),
            empty_blocks: false,
            trailing_empty_block: false,
        });
        let running = tokio::spawn(sequencer.run(app.clone(), shutdown));
        let committed = app.committed.notified();
        tokio::pin!(committed);
        committed.as_mut().enable();
        for _ in 0..50 {
            app.send();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let burst_ended = StdInstant::now();
        tokio::time::timeout(Duration::from_secs(5), committed)
            .await
            .expect("the burst's block within 5 s, half the interval");
        let waited = app.proposed.lock()[0].saturating_duration_since(burst_ended);
        assert!(
            waited < Duration::from_secs(2),
            "the block was proposed {waited:?} after the burst ended"
        );
        stop.send(true).expect("the sequencer is running");
        running
            .await
            .expect("the sequencer task")
            .expect("the sequencer stops cleanly");
    }

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    /// A stream that goes on is not cut early, even through a gap several times its mean; it
    /// counts as stopped after ten mean gaps, never sooner than the floor, never later than
    /// the interval; a lone transaction has no rate and waits for the interval.
    #[test]
    fn a_stream_counts_as_stopped_after_ten_of_its_mean_gaps() {
        let interval = Duration::from_millis(500);
        let start = Instant::now();
        // Twenty arrivals 5 ms apart: a mean gap of 5 ms, so 50 ms of silence ends it.
        let mut stream = Stream::new(start, 100);
        for i in 1..=20 {
            stream.observe(at(start, 5 * i), 100 + i);
        }
        assert!(!stream.stopped(at(start, 100 + 30), interval));
        assert!(!stream.stopped(at(start, 100 + 49), interval));
        assert!(stream.stopped(at(start, 100 + 50), interval));
        // Seeing the same count again is no arrival.
        stream.observe(at(start, 140), 120);
        assert!(stream.stopped(at(start, 150), interval));

        // A fast stream (0.1 ms apart) still gets the floor of silence.
        let mut fast = Stream::new(start, 0);
        fast.observe(at(start, 1), 10);
        assert!(!fast.stopped(at(start, 1) + QUIET_FLOOR / 2, interval));
        assert!(fast.stopped(at(start, 1) + QUIET_FLOOR, interval));

        // A slow stream (100 ms apart) is held no longer than the interval.
        let mut slow = Stream::new(start, 0);
        slow.observe(at(start, 100), 1);
        assert!(!slow.stopped(at(start, 100 + 499), interval));
        assert!(slow.stopped(at(start, 100 + 500), interval));

        // One transaction, or none: no rate, no early cut.
        let lone = Stream::new(start, 7);
        assert!(!lone.stopped(at(start, 60_000), interval));
    }
}
