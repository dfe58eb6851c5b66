//! The solo sequencer: one node orders and finalizes alone. Finality is immediate.

use crate::{Application, Backlog, Ordering, OrderingError};
use std::{sync::Arc, time::Duration};
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct SoloConfig {
    /// Longest time a transaction waits for its block while the pool is not full.
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
                last_block = Instant::now();
                trailing_due = had_work;
            }
        }
    }
}
