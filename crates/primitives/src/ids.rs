//! Identifiers that are validated once at the boundary and trusted afterwards.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Name of a channel: 1 to 64 characters of `[a-z0-9_-]`, starting with a letter or digit.
/// The name appears in URLs (`/channels/<name>`) and directory names, hence the strict alphabet.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChannelIdError {
    #[error("channel name must be 1 to 64 characters, got {0}")]
    Length(usize),
    #[error(
        "channel name {0:?} may contain only lowercase letters, digits, '-' and '_', and must start with a letter or digit"
    )]
    Alphabet(String),
}

impl ChannelId {
    pub fn new(name: impl Into<String>) -> Result<Self, ChannelIdError> {
        let name = name.into();
        if name.is_empty() || name.len() > 64 {
            return Err(ChannelIdError::Length(name.len()));
        }
        let valid_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        let first_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !first_ok || !name.chars().all(valid_char) {
            return Err(ChannelIdError::Alphabet(name));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChannelId {
    type Error = ChannelIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ChannelId> for String {
    fn from(value: ChannelId) -> Self {
        value.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Height of a block in a channel; genesis is height 0.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Height(pub u64);

impl Height {
    pub const GENESIS: Height = Height(0);

    pub fn next(self) -> Height {
        Height(self.0 + 1)
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_validated() {
        assert!(ChannelId::new("default").is_ok());
        assert!(ChannelId::new("supply-chain_2").is_ok());
        assert_eq!(ChannelId::new(""), Err(ChannelIdError::Length(0)));
        assert!(matches!(
            ChannelId::new("Upper"),
            Err(ChannelIdError::Alphabet(_))
        ));
        assert!(matches!(
            ChannelId::new("../etc"),
            Err(ChannelIdError::Alphabet(_))
        ));
        assert!(matches!(
            ChannelId::new("-x"),
            Err(ChannelIdError::Alphabet(_))
        ));
        assert!(ChannelId::new("a".repeat(65)).is_err());
    }
}
