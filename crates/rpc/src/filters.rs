//! Polled filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_getFilterChanges`).

use crate::{
    errors,
    eth::{filter_range, logs_in_range},
};
use alloy_primitives::U64;
use alloy_rpc_types_eth::{Filter, FilterChanges};
use jsonrpsee::core::RpcResult;
use parking_lot::Mutex;
use ricaas_storage::Snapshot;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// A filter not polled for this long is removed, as geth does.
const FILTER_TIMEOUT: Duration = Duration::from_secs(300);
/// Most filters installed at once on a channel.
const MAX_FILTERS: usize = 10_000;

#[derive(Clone, Debug)]
pub enum FilterKind {
    Blocks,
    Logs(Box<Filter>),
}

struct Installed {
    kind: FilterKind,
    /// Height up to which changes were already reported.
    reported: u64,
    last_poll: Instant,
}

#[derive(Default)]
pub struct Filters {
    next_id: Mutex<u64>,
    installed: Mutex<HashMap<u64, Installed>>,
}

fn unknown(id: U64) -> jsonrpsee::types::ErrorObjectOwned {
    errors::server_error(format!(
        "filter {id} not found (it was uninstalled or expired after 5 minutes without polling)"
    ))
}

impl Filters {
    pub fn install(&self, kind: FilterKind, head: u64) -> RpcResult<U64> {
        let mut installed = self.installed.lock();
        installed.retain(|_, f| f.last_poll.elapsed() < FILTER_TIMEOUT);
        if installed.len() >= MAX_FILTERS {
            return Err(errors::limit_exceeded(format!(
                "too many filters installed (limit {MAX_FILTERS}); uninstall unused ones"
            )));
        }
        let mut next = self.next_id.lock();
        *next += 1;
        installed.insert(
            *next,
            Installed {
                kind,
                reported: head,
                last_poll: Instant::now(),
            },
        );
        Ok(U64::from(*next))
    }

    pub fn uninstall(&self, id: U64) -> bool {
        self.installed.lock().remove(&id.to::<u64>()).is_some()
    }

    pub fn log_filter(&self, id: U64) -> RpcResult<Filter> {
        let mut installed = self.installed.lock();
        let entry = installed
            .get_mut(&id.to::<u64>())
            .ok_or_else(|| unknown(id))?;
        entry.last_poll = Instant::now();
        match &entry.kind {
            FilterKind::Logs(filter) => Ok((**filter).clone()),
            FilterKind::Blocks => Err(errors::invalid_params(format!(
                "filter {id} is a block filter, not a log filter"
            ))),
        }
    }

    pub fn changes(&self, id: U64, snapshot: &Snapshot) -> RpcResult<FilterChanges> {
        let head = snapshot.head_height().unwrap_or_default();
        let (kind, from) = {
            let mut installed = self.installed.lock();
            let entry = installed
                .get_mut(&id.to::<u64>())
                .ok_or_else(|| unknown(id))?;
            entry.last_poll = Instant::now();
            let from = entry.reported + 1;
            entry.reported = head.max(entry.reported);
            (entry.kind.clone(), from)
        };
        if from > head {
            return Ok(FilterChanges::Empty);
        }
        match kind {
            FilterKind::Blocks => {
                let mut hashes = Vec::new();
                for height in from..=head {
                    if let Some(header) = snapshot.header(height).map_err(errors::storage)? {
                        hashes.push(header.hash());
                    }
                }
                Ok(FilterChanges::Hashes(hashes))
            }
            FilterKind::Logs(filter) => {
                let Some((start, end)) = filter_range(snapshot, &filter)? else {
                    return Ok(FilterChanges::Empty);
                };
                let (start, end) = (start.max(from), end.min(head));
                Ok(FilterChanges::Logs(logs_in_range(
                    snapshot, &filter, start, end,
                )?))
            }
        }
    }
}
