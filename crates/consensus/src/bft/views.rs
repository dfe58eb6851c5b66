//! Consensus progress as metrics: the view and epoch this validator has seen certified, views
//! that ended without a block (a leader timed out and the validators nullified the view), and
//! evidence of validators voting both ways. Fed by the simplex engine of every epoch.

use commonware_actor::Feedback;
use commonware_consensus::{
    Epochable as _, Reporter, Viewable as _,
    simplex::{scheme::ed25519, types::Activity},
};
use commonware_cryptography::sha256::Digest;
use commonware_runtime::{
    Metrics,
    telemetry::metrics::{Counter, Gauge, GaugeValue, MetricsExt as _},
};
use std::sync::Arc;

#[derive(Clone)]
pub struct ViewMetrics {
    view: Gauge,
    epoch: Gauge,
    nullified: Counter,
    finalized: Counter,
    equivocations: Counter,
    /// The highest (epoch, view) certified so far: views restart in each epoch.
    highest: Arc<parking_lot::Mutex<(u64, u64)>>,
}

impl ViewMetrics {
    /// Registers the metrics on `runtime` (names prefixed by its context).
    pub fn register(runtime: &impl Metrics) -> Self {
        Self {
            view: runtime.gauge(
                "view",
                "Highest consensus view with a certificate (notarization, finalization or nullification) in the current epoch",
            ),
            epoch: runtime.gauge("epoch", "Consensus epoch of the highest certified view"),
            nullified: runtime.counter(
                "nullified_views",
                "Views that ended without a block: the leader timed out or was not followed, and the validators nullified the view",
            ),
            finalized: runtime.counter(
                "finalized_views",
                "Views whose block was finalized",
            ),
            equivocations: runtime.counter(
                "equivocations",
                "Evidence seen of a validator voting for conflicting outcomes of one view",
            ),
            highest: Arc::default(),
        }
    }

    fn certified(&self, epoch: u64, view: u64) {
        let mut highest = self.highest.lock();
        if (epoch, view) > *highest {
            *highest = (epoch, view);
            self.epoch
                .set(GaugeValue::try_from(epoch).unwrap_or(GaugeValue::MAX));
            self.view
                .set(GaugeValue::try_from(view).unwrap_or(GaugeValue::MAX));
        }
    }
}

impl Reporter for ViewMetrics {
    type Activity = Activity<ed25519::Scheme, Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        let (epoch, view) = (activity.epoch().get(), activity.view().get());
        match &activity {
            Activity::Notarization(_) => self.certified(epoch, view),
            Activity::Nullification(_) => {
                self.nullified.inc();
                self.certified(epoch, view);
            }
            Activity::Finalization(_) => {
                self.finalized.inc();
                self.certified(epoch, view);
            }
            Activity::ConflictingNotarize(_)
            | Activity::ConflictingFinalize(_)
            | Activity::NullifyFinalize(_) => {
                self.equivocations.inc();
            }
            _ => {}
        }
        Feedback::Ok
    }
}
