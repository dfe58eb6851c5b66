//! The detectors: each a function from the program to its findings, with the rules it reports.

mod access_control;
mod approvals;
mod arithmetic;
mod authorization_hook;
mod denial_of_service;
mod front_running;
mod randomness;
mod reentrancy;
mod short_address;
mod storage_pointer;
mod storage_write;
mod tx_origin;
mod unchecked_call;
mod withdrawal;

use crate::{Finding, Rule, program::Program};

pub type Detector = fn(&Program<'_>) -> Vec<Finding>;

/// Every detector, named as in reports, in the order they run.
pub const DETECTORS: &[(&str, Detector)] = &[
    ("unchecked-call", unchecked_call::detect),
    ("tx-origin", tx_origin::detect),
    ("randomness", randomness::detect),
    ("reentrancy", reentrancy::detect),
    ("arithmetic", arithmetic::detect),
    ("access-control", access_control::detect),
    ("authorization-hook", authorization_hook::detect),
    ("denial-of-service", denial_of_service::detect),
    ("front-running", front_running::detect),
    ("storage-pointer", storage_pointer::detect),
    ("storage-write", storage_write::detect),
    ("short-address", short_address::detect),
    ("withdrawal", withdrawal::detect),
    ("approvals", approvals::detect),
];

/// Every rule a detector reports.
pub const RULES: &[&Rule] = &[
    &unchecked_call::RULE,
    &unchecked_call::UNCHECKED_TRANSFER,
    &tx_origin::RULE,
    &randomness::WEAK_RANDOMNESS,
    &randomness::TIMESTAMP,
    &reentrancy::ETH,
    &reentrancy::NO_ETH,
    &arithmetic::RULE,
    &access_control::UNPROTECTED_SELFDESTRUCT,
    &access_control::UNPROTECTED_AUTHORITY,
    &access_control::UNPROTECTED_SETTING,
    &access_control::UNPROTECTED_OWNER_ACTION,
    &access_control::MISNAMED_CONSTRUCTOR,
    &access_control::CONTROLLED_DELEGATECALL,
    &denial_of_service::FAILED_PAYMENT,
    &denial_of_service::UNBOUNDED_LOOP,
    &front_running::REVEALED_SECRET,
    &front_running::ORDER_DEPENDENT_PAYMENT,
    &storage_pointer::RULE,
    &storage_write::RULE,
    &short_address::RULE,
    &withdrawal::RULE,
    &approvals::ARBITRARY_TRANSFER_FROM,
    &approvals::ARBITRARY_CALL,
];
