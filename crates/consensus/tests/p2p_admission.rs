//! The validators' p2p network over real sockets: listed validators exchange messages; a node
//! whose key is not in a validator's list can neither connect to it nor get a message through.

use commonware_consensus::types::Epoch;
use commonware_p2p::{Receiver as _, Recipients, Sender as _};
use commonware_runtime::{IoBuf, Runner as _, Supervisor as _, tokio};
use ricaas_consensus::bft::{
    EpochValidator, NetworkPeers, NodePublicKey, PeerTracker as _, ValidatorSet, generate_node_key,
    public_key_of, start_network,
};
use std::{
    net::{SocketAddr, TcpListener},
    time::Duration,
};

const NAMESPACE: &[u8] = b"ricaas-p2p-test";

fn free_addrs(count: usize) -> Vec<SocketAddr> {
    let listeners: Vec<_> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("addr"))
        .collect()
}

/// Tracks `peers` as epoch 0's validators of a started network.
fn track(
    network: &ricaas_consensus::bft::ValidatorNetwork<tokio::Context>,
    peers: &[(NodePublicKey, SocketAddr)],
) {
    let set = ValidatorSet(
        peers
            .iter()
            .map(|(key, address)| EpochValidator {
                key: key.clone(),
                address: Some(*address),
            })
            .collect(),
    );
    let mut tracker = NetworkPeers::new(network.oracle.clone(), Default::default()).chain(0);
    tracker.track(Epoch::zero(), &set, &ValidatorSet(Vec::new()));
}

#[test]
fn only_listed_validators_can_connect_and_deliver_messages() {
    let storage = tempfile::tempdir().expect("tempdir");
    let runner = tokio::Runner::new(tokio::Config::new().with_storage_directory(storage.path()));
    runner.start(|context| async move {
        let (a, b, outsider) = (
            generate_node_key(),
            generate_node_key(),
            generate_node_key(),
        );
        let addrs = free_addrs(3);
        let a_key = public_key_of(&a);
        let validators = vec![(a_key.clone(), addrs[0]), (public_key_of(&b), addrs[1])];
        let mut net_a = start_network(context.child("a"), a, NAMESPACE, addrs[0], 1 << 16);
        track(&net_a, &validators);
        let mut net_b = start_network(context.child("b"), b.clone(), NAMESPACE, addrs[1], 1 << 16);
        track(&net_b, &validators);
        // The outsider lists validator a as its peer (it knows a's key and address).
        let mut net_x = start_network(
            context.child("outsider"),
            outsider.clone(),
            NAMESPACE,
            addrs[2],
            1 << 16,
        );
        track(
            &net_x,
            &[(public_key_of(&outsider), addrs[2]), (a_key, addrs[0])],
        );

        // A listed validator gets through (retry while connections are being established).
        let (sender_b, _) = &mut net_b.channels.transactions;
        let (_, receiver_a) = &mut net_a.channels.transactions;
        let delivered = ::tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let _ = sender_b.send(Recipients::All, IoBuf::from(b"from-b".to_vec()), false);
                if let Ok(Ok((peer, message))) =
                    ::tokio::time::timeout(Duration::from_millis(200), receiver_a.recv()).await
                {
                    return (peer, message);
                }
            }
        })
        .await
        .expect("validator b reaches validator a within 30 s");
        assert_eq!(delivered.0, public_key_of(&b));
        assert_eq!(delivered.1.as_ref(), b"from-b");

        // The outsider keeps trying for a while; nothing from it ever arrives. (An absence can
        // only be observed over a bounded window: 20 dial periods of the outsider.)
        let (sender_x, _) = &mut net_x.channels.transactions;
        let outsider_key = public_key_of(&outsider);
        let window = ::tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let _ = sender_x.send(Recipients::All, IoBuf::from(b"from-x".to_vec()), false);
                if let Ok(Ok((peer, _))) =
                    ::tokio::time::timeout(Duration::from_millis(200), receiver_a.recv()).await
                {
                    assert_ne!(
                        peer, outsider_key,
                        "a message from a non-validator was delivered"
                    );
                }
            }
        })
        .await;
        assert!(
            window.is_err(),
            "the observation loop only ends by timing out"
        );
    });
}
