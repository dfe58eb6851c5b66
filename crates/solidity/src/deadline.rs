//! The time limit of one check, enforced inside the detectors' walks over the syntax tree. A
//! detector that takes too long on some input (a shape nobody foresaw) is stopped where it is,
//! not when it next finishes a function: every step down the tree is counted, the clock read
//! every [`CHECK_EVERY`] steps, and past the deadline the walk unwinds with [`TimeLimitReached`]
//! (as salsa cancels a query), which [`run`] catches. A detector that panics is caught the same
//! way, so a bug in one costs its own findings, not the whole report.

use std::{cell::Cell, panic, time::Instant};

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static STEPS: Cell<u32> = const { Cell::new(0) };
}

/// Steps between two readings of the clock: a reading costs about as much as a few hundred
/// steps' bookkeeping would, and a thousand steps take well under a millisecond.
const CHECK_EVERY: u32 = 1024;

/// The payload a walk unwinds with past the deadline.
struct TimeLimitReached;

/// Why [`run`] returned no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The deadline passed while it ran.
    TimeLimit,
    /// It panicked: a bug.
    Failed,
}

/// Runs `work` on this thread with walks stopped at `deadline`.
pub fn run<T>(deadline: Instant, work: impl FnOnce() -> T) -> Result<T, Stopped> {
    let previous = DEADLINE.replace(Some(deadline));
    // The detectors share nothing that a stopped one could leave half-written but the
    // program's memos, whose entries are only inserted once complete.
    let outcome = panic::catch_unwind(panic::AssertUnwindSafe(work));
    DEADLINE.set(previous);
    outcome.map_err(|payload| {
        if payload.is::<TimeLimitReached>() {
            Stopped::TimeLimit
        } else {
            Stopped::Failed
        }
    })
}

/// Counts one step of a walk; past the deadline of the enclosing [`run`], unwinds to it.
/// Outside a `run` it only counts.
pub fn step() {
    let steps = STEPS.get().wrapping_add(1);
    STEPS.set(steps);
    if steps.is_multiple_of(CHECK_EVERY) && DEADLINE.get().is_some_and(|d| Instant::now() > d) {
        // `resume_unwind`, not `panic!`: no panic hook runs, nothing is printed.
        panic::resume_unwind(Box::new(TimeLimitReached));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_walk_that_never_ends_is_stopped_at_the_deadline() {
        let stopped = run(Instant::now() + Duration::from_millis(50), || {
            loop {
                step();
            }
        });
        assert_eq!(stopped.err(), Some(Stopped::TimeLimit));
        // Outside `run` nothing unwinds.
        for _ in 0..10 * CHECK_EVERY {
            step();
        }
    }

    #[test]
    fn work_that_ends_in_time_returns_its_answer_and_a_panic_is_a_failure() {
        let deadline = Instant::now() + Duration::from_secs(60);
        assert_eq!(run(deadline, || 42), Ok(42));
        let failed = run(deadline, || -> u32 { panic!("a bug") });
        assert_eq!(failed.err(), Some(Stopped::Failed));
    }
}
