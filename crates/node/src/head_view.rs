//! What admission reads from the committed head, taken once per head and shared by every
//! transaction admitted until the next block commits.
//!
//! Opening a storage snapshot (a read transaction over a dozen tables), decoding the channel
//! configuration and reading the sender's membership record cost more than half of what
//! admission spends outside signature recovery when done per transaction. All three depend only
//! on the head state, so a node under load reads them once per block instead of once per
//! transaction. Checks that depend on the wall clock (certificate validity) still run for every
//! transaction, on the cached record.

use alloy_primitives::Address;
use parking_lot::Mutex;
use ricaas_execution::system::{Consortium, StateSlots, identity_record};
use ricaas_primitives::system::IdentityRecord;
use ricaas_storage::Snapshot;
#[cfg(test)]
use ricaas_storage::StorageError;
use std::sync::Arc;

/// The head state as admission sees it. Valid for exactly one head height: the channel keeps
/// the one matching its current head and replaces it when the head moves.
pub(crate) struct HeadView {
    height: Option<u64>,
    snapshot: Snapshot,
    consortium: Option<Arc<Consortium>>,
    /// Membership records read so far in this view (`None`: the account is not enrolled).
    identities: Mutex<alloy_primitives::map::AddressMap<Option<IdentityRecord>>>,
}

impl HeadView {
    /// A view of `snapshot` with the channel configuration it holds.
    pub(crate) fn new(snapshot: Snapshot, consortium: Option<Arc<Consortium>>) -> Self {
        Self {
            height: snapshot.head_height(),
            snapshot,
            consortium,
            identities: Mutex::new(Default::default()),
        }
    }

    /// Height of the head this view shows.
    pub(crate) fn height(&self) -> Option<u64> {
        self.height
    }

    pub(crate) fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub(crate) fn consortium(&self) -> Option<&Consortium> {
        self.consortium.as_deref()
    }

    /// The membership record of `account` at this head, read from storage once per view.
    pub(crate) fn identity(
        &self,
        account: Address,
    ) -> Result<Option<IdentityRecord>, ricaas_execution::StateReadError> {
        if let Some(record) = self.identities.lock().get(&account) {
            return Ok(record.clone());
        }
        let record = identity_record(&mut StateSlots(&self.snapshot), account)?;
        self.identities.lock().insert(account, record.clone());
        Ok(record)
    }

    /// Whether `sender` may create a contract from `init_code` here, and under which policy
    /// (see [`ricaas_execution::system::creation_action`]). Creations are rare: not cached.
    pub(crate) fn creation_action(
        &self,
        consortium: &Consortium,
        sender: Address,
        init_code: &[u8],
    ) -> Result<
        Result<
            (ricaas_execution::system::Action, Option<String>),
            ricaas_execution::system::PermissionError,
        >,
        ricaas_execution::StateReadError,
    > {
        ricaas_execution::system::creation_action(
            consortium,
            &mut StateSlots(&self.snapshot),
            sender,
            init_code,
        )
    }
}

/// The channel's current [`HeadView`], replaced when the head moves.
#[derive(Default)]
pub(crate) struct HeadViewCache {
    current: Mutex<Option<Arc<HeadView>>>,
}

impl HeadViewCache {
    /// The view for `head_height`, opening one with `open` when the cached view shows another
    /// head. A view opened while a commit is under way may show a newer head than `head_height`
    /// says; it serves this caller but is not kept, so the cache never holds a view other than
    /// the head's.
    pub(crate) fn get<E>(
        &self,
        head_height: u64,
        open: impl FnOnce() -> Result<HeadView, E>,
    ) -> Result<Arc<HeadView>, E> {
        if let Some(view) = self.current.lock().as_ref()
            && view.height() == Some(head_height)
        {
            return Ok(view.clone());
        }
        // Opened without the lock held: other admissions go on with the view they have.
        let view = Arc::new(open()?);
        if view.height() == Some(head_height) {
            *self.current.lock() = Some(view.clone());
        }
        Ok(view)
    }

    /// Drops the cached view (a block became durable: the head is about to move).
    pub(crate) fn clear(&self) {
        *self.current.lock() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ricaas_storage::ChainStore;

    fn view_of(store: &ChainStore) -> Result<HeadView, StorageError> {
        Ok(HeadView::new(store.snapshot()?, None))
    }

    #[test]
    fn a_view_is_kept_for_its_head_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ChainStore::open(&dir.path().join("chain.redb")).expect("opens");
        let cache = HeadViewCache::default();
        let opened = std::cell::Cell::new(0);
        let open = || {
            opened.set(opened.get() + 1);
            view_of(&store)
        };
        // An empty store has no head: its view matches no height and is never kept.
        cache.get(0, open).expect("view");
        cache.get(0, open).expect("view");
        assert_eq!(opened.get(), 2);
        // A view at the asked height is kept and shared until cleared.
        let cache = HeadViewCache::default();
        let stub = || -> Result<HeadView, StorageError> {
            opened.set(opened.get() + 1);
            let mut view = view_of(&store)?;
            view.height = Some(7);
            Ok(view)
        };
        let first = cache.get(7, stub).expect("view");
        let second = cache.get(7, stub).expect("view");
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(opened.get(), 3);
        // Another head height opens a new view; so does a cleared cache.
        cache.get(8, stub).expect("view");
        assert_eq!(opened.get(), 4);
        cache.clear();
        cache.get(7, stub).expect("view");
        assert_eq!(opened.get(), 5);
    }
}
