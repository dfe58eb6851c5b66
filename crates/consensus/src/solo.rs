//! The solo sequencer: one node orders and finalizes alone. Finality is immediate.

use crate::{Application, Backlog, Ordering, OrderingError};
use std::{sync::Arc, time::Duration};
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct SoloConfig {
    /// Longest time between the starts of two blocks while the pool is not full: a transaction
    /// that arrives while a block is built waits for the next at most this long from that
    /// block's start (or until the block is committed, if that takes longer).
    pub block_interval: Duration,
    /// Produce a block every interval even without transactions.
    pub empty_blocks: bool,
    /// Without `empty_blocks`, still follow each burst of activity with one empty block after
    /// the interval. Clients that wait for "a block after the one holding my transaction"
    /// (ethers' `tx.wait()` polls the block number and checks `head >= receipt block`, with a
    /// 250 ms cache) would otherwise stall on an idle chain. One block per burst, not per interval.
    pub trailing_empty_block: bool,
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
            }
            // Batch until the block is full or the interval since the last block has passed.
            let deadline = last_block + interval;
            while app.backlog() != Backlog::Full && Instant::now() < deadline {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = app.work_arrived() => {}
                    _ = tokio::time::sleep_until(deadline) => {}
                }
            }
            let worker = app.clone();
            let had_work = app.backlog() != Backlog::Empty;
            // The interval runs from when a block's transactions are taken, not from when it is
            // committed: under steady load the next block starts as soon as this one is durable
            // if building and committing took the interval or longer, instead of waiting a
            // further interval (or for a full pool) while the sequencer idles.
            let started = Instant::now();
            let produced = tokio::task::spawn_blocking(move || -> Result<bool, A::Error> {
                match worker.propose(allow_empty)? {
                    Some(block) => {
                        worker.finalize(block)?;
                        Ok(true)
                    }
                    None => Ok(false),
                }
            })
            .await
            .map_err(|e| OrderingError::Task(e.to_string()))?
            .map_err(|e| OrderingError::Application(e.to_string()))?;
            if produced {
                last_block = started;
                trailing_due = had_work;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

        fn backlog(&self) -> Backlog {
            Backlog::Partial
        }

        async fn work_arrived(&self) {
            std::future::pending::<()>().await
        }

        fn propose(&self, _allow_empty: bool) -> Result<Option<()>, Never> {
            self.starts.lock().push(StdInstant::now());
            // Building and executing the block: longer than the interval.
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
}
