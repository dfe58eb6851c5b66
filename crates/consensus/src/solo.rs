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
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            // Wait for work (or, with empty blocks, for the interval).
            if app.backlog() == Backlog::Empty {
                let deadline = last_block + interval;
                tokio::select! {
                    _ = shutdown.changed() => continue,
                    _ = app.work_arrived() => {}
                    _ = tokio::time::sleep_until(deadline), if self.config.empty_blocks => {}
                }
                if app.backlog() == Backlog::Empty && !self.config.empty_blocks {
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
            let allow_empty = self.config.empty_blocks;
            let worker = app.clone();
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
            }
        }
    }
}
