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
            #[allow(dead_code)] // not every kind is read back
            pub(crate) fn from_stored(value: String) -> Self {
                Self(value)
            }

            /// An id given by a caller, if it has this kind's shape (the prefix, 32 hex digits).
            pub fn parse(value: &str) -> Option<Self> {
                let hex = value.strip_prefix($prefix)?;
                (hex.len() == 32
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
                .then(|| Self(value.to_owned()))
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

id_type!(GroupId, "grp_", "A group of accounts of one tenant.");
id_type!(PolicyId, "pol_", "A policy document of one tenant.");
id_type!(
    ApiKeyId,
    "ak_",
    "An API key: the public half of `<id>.<secret>`."
);
id_type!(KeyId, "key_", "A key of a tenant's custodial keystore.");
id_type!(ChannelId, "chn_", "A channel the platform can reach.");
id_type!(
    InvocationId,
    "inv_",
    "A contract invocation sent through the gateway."
);
id_type!(
    CertificateId,
    "crt_",
    "A certificate in a tenant's inventory."
);
id_type!(NetworkId, "net_", "A consortium network.");
id_type!(InvitationId, "inv_", "An invitation to join a network.");
id_type!(
    NodeId,
    "nod_",
    "A node of a network, run by the platform or registered."
);
id_type!(
    OperationId,
    "op_",
    "A long operation (creating a network), with progress, retry and cancel."
);
id_type!(
    RequestId,
    "req_",
    "One HTTP request, quoted in its response and its audit entry."
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
        assert_eq!(TenantId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(TenantId::parse("tnt_00"), None);
        assert!(AccountId::parse(&a.as_str().replace("tnt_", "acc_")).is_some());
        assert_eq!(AccountId::parse(a.as_str()), None);
    }
}
