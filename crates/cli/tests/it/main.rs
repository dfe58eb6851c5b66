//! The `ricaas` binary end to end, one test binary (one link) for all of it: each module starts
//! the real binary (a node, a network of validator processes, the CLI) in a temporary directory
//! and speaks to it as a client would. Every process a test starts is killed by PID when its
//! handle drops.

mod common;

mod bad_input;
mod bench;
mod bft;
mod ca;
mod channels;
mod check;
mod compile;
mod crash_recovery;
mod k8s;
mod lifecycle;
mod native_envelope;
mod networks;
mod platform;
mod read_access;
mod up_platform;
