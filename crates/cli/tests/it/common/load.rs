//! Sustained load: one thread per sender submits transfers in nonce order until stopped,
//! recording every hash an endpoint accepted. A refused or failed call (a dead node) is retried
//! with the same nonce after a short pause.

use super::{Rpc, transfer};
use alloy_primitives::{B256, U256};
use ricaas_crypto::DevKey;
use serde_json::json;
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

pub struct Load {
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<B256>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// Sender i submits to `endpoints[i % len]`, pausing `pause` between transactions.
    pub fn start(endpoints: &[Rpc], senders: Vec<DevKey>, pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let accepted: Arc<Mutex<Vec<B256>>> = Arc::default();
        let threads = senders
            .into_iter()
            .enumerate()
            .map(|(n, key)| {
                let (stop, accepted) = (stop.clone(), accepted.clone());
                let rpc = endpoints[n % endpoints.len()].clone();
                std::thread::spawn(move || {
                    let mut nonce = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let (hash, raw) =
                            transfer(&key, nonce, DevKey::random().address(), U256::from(1));
                        match rpc.try_call("eth_sendRawTransaction", json!([raw])) {
                            Some(_) => {
                                accepted.lock().expect("lock").push(hash);
                                nonce += 1;
                            }
                            None => std::thread::sleep(Duration::from_millis(10)),
                        }
                        if !pause.is_zero() {
                            std::thread::sleep(pause);
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            accepted,
            threads,
        }
    }

    /// The hashes accepted so far.
    pub fn accepted(&self) -> Vec<B256> {
        self.accepted.lock().expect("lock").clone()
    }

    /// Stops every sender and returns all accepted hashes.
    pub fn finish(self) -> Vec<B256> {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().expect("load thread");
        }
        self.accepted.lock().expect("lock").clone()
    }
}
