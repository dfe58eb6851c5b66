//! Where a peer's p2p endpoint is reached: an IP socket address, or a DNS name and port (a
//! Kubernetes Service, a load balancer), resolved each time the peer is dialed.

use commonware_p2p::{Address, Ingress};
use std::{fmt, net::SocketAddr, str::FromStr};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PeerAddress {
    Socket(SocketAddr),
    Dns { host: String, port: u16 },
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an ip:port or host:port address{1}")]
pub struct PeerAddressError(String, &'static str);

impl FromStr for PeerAddress {
    type Err = PeerAddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(socket) = text.parse::<SocketAddr>() {
            return Ok(Self::Socket(socket));
        }
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| PeerAddressError(text.into(), " (no port)"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| PeerAddressError(text.into(), " (bad port)"))?;
        commonware_utils::Hostname::new(host)
            .map_err(|_| PeerAddressError(text.into(), " (bad host name)"))?;
        Ok(Self::Dns {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Socket(socket) => write!(f, "{socket}"),
            Self::Dns { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

impl From<SocketAddr> for PeerAddress {
    fn from(socket: SocketAddr) -> Self {
        Self::Socket(socket)
    }
}

impl serde::Serialize for PeerAddress {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PeerAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl PeerAddress {
    /// The address the p2p network dials. Connections are admitted by key, not source address
    /// (see [`super::start_network`]), so a DNS peer's egress address is never checked.
    pub fn to_p2p(&self) -> Address {
        match self {
            Self::Socket(socket) => Address::from(*socket),
            Self::Dns { host, port } => match commonware_utils::Hostname::new(host.as_str()) {
                Ok(host) => Address::Asymmetric {
                    ingress: Ingress::Dns { host, port: *port },
                    egress: SocketAddr::from(([0, 0, 0, 0], 0)),
                },
                // Checked when parsed; an unroutable address is never dialed.
                Err(_) => Address::from(SocketAddr::from(([0, 0, 0, 0], 0))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_and_dns_addresses_parse_print_and_refuse_garbage() {
        let ip: PeerAddress = "10.0.0.5:9000".parse().expect("ip");
        assert_eq!(
            ip,
            PeerAddress::Socket("10.0.0.5:9000".parse().expect("socket"))
        );
        let dns: PeerAddress = "org1-validator0-p2p.ledger.svc:30303".parse().expect("dns");
        assert_eq!(dns.to_string(), "org1-validator0-p2p.ledger.svc:30303");
        assert!(matches!(
            dns.to_p2p(),
            Address::Asymmetric {
                ingress: Ingress::Dns { port: 30303, .. },
                ..
            }
        ));
        for bad in ["no-port", "host:99999", "bad_host!:1", ":80"] {
            assert!(bad.parse::<PeerAddress>().is_err(), "{bad}");
        }
    }
}
