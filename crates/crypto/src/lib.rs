//! Cryptography of RiChain. Today: the Ethereum-compatible `standard` suite — secp256k1 ECDSA
//! through libsecp256k1 (the `secp256k1` crate) and Keccak-256. Later issues add SM2/SM3/SM4,
//! P-256, Ed25519 and X.509; those will live here too. No I/O beyond key files.

mod keys;
mod recover;

pub use keys::{DevKey, KeyError};
pub use recover::{SignatureError, address_of, recover_transaction, sign_transaction};
