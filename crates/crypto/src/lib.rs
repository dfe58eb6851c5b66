//! Cryptography of RiChain: the Ethereum-compatible `standard` suite — secp256k1 ECDSA through
//! libsecp256k1 (the `secp256k1` crate) and Keccak-256 — and organization certificate
//! authorities issuing X.509 identities (secp256k1, P-256, Ed25519 keys). SM2/SM3/SM4 arrive
//! later. No I/O beyond key files.

pub mod ca;
mod keys;
mod recover;

pub use keys::{DevKey, KeyError};
pub use recover::{SignatureError, address_of, recover_transaction, sign_transaction};
