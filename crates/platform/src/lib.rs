//! The RiCaaS management plane (`ricaas platform`): the service a customer signs in to.
//!
//! Layers, each depending only on the ones below it:
//! - [`store`]: one SQL schema with versioned migrations, on SQLite (embedded default) or
//!   PostgreSQL, chosen by the connection URL.
//! - [`accounts`]: the domain — the operator, tenants, their root accounts, passwords (Argon2id)
//!   and sessions (random tokens stored hashed, expiring, revocable). No HTTP here.
//! - [`api`]: the REST surface under `/api/v1` (axum) and its OpenAPI document (utoipa).

pub mod accounts;
pub mod api;
pub mod ids;
pub mod store;

pub use accounts::{AccountKind, AuthError, Platform, Principal};
pub use api::{router, serve};
pub use store::{Store, StoreError};
