//! Ordering of transactions into finalized blocks. The chain (the [`Application`]) builds,
//! verifies and commits blocks; an ordering engine decides when and which block is final. The
//! solo sequencer serves a single-node channel through [`Ordering`]; [`bft`] replicates a channel
//! among validators with Commonware simplex, driving the chain through
//! [`bft::ReplicatedChain`] (build on notarized parents, verify, commit finalized blocks).

pub mod bft;
mod solo;

pub use solo::{SoloConfig, SoloSequencer};

use std::{future::Future, sync::Arc};

/// How much work the application has waiting to be ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backlog {
    Empty,
    Partial,
    /// Enough to fill a block: the engine should not wait for the interval.
    Full,
}

/// What an open block holds after a [`fill_block`](Application::fill_block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filled {
    /// Transactions moved into the block so far.
    pub transactions: usize,
    /// The block takes no more: the engine should cut it now.
    pub full: bool,
}

/// The chain as an ordering engine sees it.
pub trait Application: Send + Sync + 'static {
    type Block: Send + 'static;
    type Error: std::error::Error + Send + Sync + 'static;
    /// A block being built that still takes transactions (see [`open_block`](Self::open_block)).
    type Open: Send + 'static;

    fn backlog(&self) -> Backlog;

    /// Resolves when new work may have arrived since the last call.
    fn work_arrived(&self) -> impl Future<Output = ()> + Send;

    /// How many transactions have become ready to order since the application started: a count
    /// that only grows, from which an engine tells a stream that goes on from one that stopped.
    fn arrivals(&self) -> u64;

    /// Starts the next block on top of the current head. While it is open, the transactions
    /// [`fill_block`](Self::fill_block) moves into it execute as they arrive, so that cutting it leaves
    /// only the last few to execute, the seal and the commit.
    fn open_block(&self) -> Result<Self::Open, Self::Error>;

    /// Moves the transactions that became ready since the last call into the open block.
    fn fill_block(&self, open: &mut Self::Open) -> Result<Filled, Self::Error>;

    /// Cuts the open block: finishes executing what it holds and seals it. `allow_empty`
    /// permits a block without transactions; otherwise `None` is returned when it holds none.
    fn close_block(
        &self,
        open: Self::Open,
        allow_empty: bool,
    ) -> Result<Option<Self::Block>, Self::Error>;

    /// Cuts the open block and makes it final at once, as a sequencer that alone decides does:
    /// returns whether a block was produced. By default [`close_block`](Self::close_block) and
    /// then [`finalize`](Self::finalize); an application may overlap the two (write the block's
    /// contents while its header is computed).
    fn close_and_finalize(&self, open: Self::Open, allow_empty: bool) -> Result<bool, Self::Error> {
        match self.close_block(open, allow_empty)? {
            Some(block) => {
                self.finalize(block)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Checks a block proposed by another node (re-executes it).
    fn verify(&self, block: &Self::Block) -> Result<(), Self::Error>;

    /// Makes a finalized block durable and visible. Must be idempotent by height.
    fn finalize(&self, block: Self::Block) -> Result<(), Self::Error>;
}

#[derive(Debug, thiserror::Error)]
pub enum OrderingError {
    #[error("the application failed: {0}")]
    Application(String),
    #[error("ordering task failed: {0}")]
    Task(String),
}

/// An engine that turns the application's work into finalized blocks until shut down.
pub trait Ordering: Send + 'static {
    fn run<A: Application>(
        self,
        app: Arc<A>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> impl Future<Output = Result<(), OrderingError>> + Send;
}
