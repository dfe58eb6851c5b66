//! The RiCaaS management plane (`ricaas platform`): the service a customer signs in to.
//!
//! Layers, each depending only on the ones below it:
//! - [`store`]: one SQL schema with versioned migrations, on SQLite (embedded default) or
//!   PostgreSQL, chosen by the connection URL.
//! - The domain, no HTTP: [`accounts`] (the operator, tenants, root and sub-accounts, passwords
//!   with Argon2id, sessions as random tokens stored hashed), [`policy`] (IAM documents and
//!   their evaluation, pure), [`iam`] (groups, stored policies, authorization), [`apikeys`]
//!   (scoped, expiring, hashed keys for business systems), [`audit`] (the append-only log),
//!   [`compiler`] (Solidity for tenants, bounded in concurrency).
//! - [`api`]: the REST surface under `/api/v1` (axum) and its OpenAPI document (utoipa), with
//!   the one route table that names each route's action.

pub mod accounts;
pub mod api;
pub mod apikeys;
pub mod audit;
pub mod bootstrap;
pub mod certificates;
pub mod chain;
pub mod compiler;
pub mod iam;
pub mod idempotency;
pub mod ids;
pub mod keystore;
pub mod mfa;
pub mod networks;
pub mod page;
pub mod policy;
pub mod seal;
pub mod security;
pub mod signup;
pub mod store;

pub use accounts::{AccountKind, AuthError, Platform, Principal};
pub use api::{router, serve};
pub use seal::MasterKey;
pub use store::{Store, StoreError};
