//! Cryptography of RiChain: the Ethereum-compatible `standard` suite — secp256k1 ECDSA through
//! libsecp256k1 (the `secp256k1` crate) and Keccak-256 — and organization certificate
//! authorities issuing X.509 identities (secp256k1, P-256, Ed25519 and SM2 keys), and the signed
//! read tokens clients present to JSON-RPC. No I/O beyond key and CA files.

pub mod ca;
mod keys;
pub mod native;
pub mod raw;
mod recover;
pub mod token;

pub use keys::{DevKey, KeyError};
pub use native::recover;
pub use recover::{
    SignatureError, address_of, recover_signer, recover_transaction, sign_transaction,
};
