//! Identifiers of platform resources: 128 random bits, hex, behind a prefix naming the kind
//! (`tnt_…` a tenant, `acc_…` an account), so an id pasted in the wrong place is recognisable.

use rand::RngCore;

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

macro_rules! id_type {
    ($name:ident, $prefix:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_hex(16)))
            }

            /// An id read back from the store (trusted: the store only holds generated ids).
            pub(crate) fn from_stored(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    TenantId,
    "tnt_",
    "A tenant: one organization using the platform."
);
id_type!(
    AccountId,
    "acc_",
    "An account that signs in: the operator's, a tenant root or a sub-account."
);

/// A secret for a person or a program: 32 random bytes, hex, behind `prefix`.
pub(crate) fn secret(prefix: &str) -> String {
    format!("{prefix}{}", random_hex(32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_random_and_distinct() {
        let a = TenantId::generate();
        let b = TenantId::generate();
        assert!(a.as_str().starts_with("tnt_") && a.as_str().len() == 4 + 32);
        assert_ne!(a, b);
        assert!(AccountId::generate().as_str().starts_with("acc_"));
        assert_eq!(secret("x_").len(), 2 + 64);
    }
}
