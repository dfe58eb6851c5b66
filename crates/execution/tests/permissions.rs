//! Permissions in block execution: who may send, deploy, enroll and revoke, decided from the
//! membership contract's state and the channel policies, identically when building and
//! verifying a block.

use alloy_consensus::{TxLegacy, TypedTransaction};
use alloy_primitives::{Address, B256, Bloom, Bytes, TxKind, U256};
use alloy_sol_types::SolCall;
use ricaas_crypto::{
    DevKey,
    ca::{self, CertificateAuthority, IdentityKey, KeyAlgorithm, Role},
    recover_transaction, sign_transaction,
};
use ricaas_execution::{
    BlockContext, ChainRules, ExecutionError, Mode, TransactionsRoot, execute_block, seal_block,
    system::{self, Consortium},
    verify_block,
};
use ricaas_primitives::{
    Block, Header, RecoveredTx,
    system::{ChannelConfigState, IMembership, MEMBERSHIP_ADDRESS, OrgState, PolicyTexts},
};
use ricaas_storage::{AccountState, ChainStore, ExecutedBlock, StateReader as _};
use std::time::{SystemTime, UNIX_EPOCH};

const RULES: ChainRules = ChainRules {
    chain_id: 7,
    block_gas_limit: 30_000_000,
    tx_gas_limit: 10_000_000,
};

struct Org {
    ca: CertificateAuthority,
    admin: DevKey,
    client: DevKey,
}

impl Org {
    fn new(name: &str, algorithm: KeyAlgorithm) -> Self {
        Self {
            ca: CertificateAuthority::new_root(name, algorithm, 3650).expect("CA"),
            admin: DevKey::random(),
            client: DevKey::random(),
        }
    }

    fn certify(&self, key: &DevKey, name: &str, role: Role, days: u32) -> ca::Certificate {
        let spki = key.identity_key().public_key_info().expect("spki");
        self.ca.issue(name, role, spki, days).expect("issued")
    }
}

struct Chain {
    _dir: tempfile::TempDir,
    store: ChainStore,
    org1: Org,
    org2: Org,
    nonces: std::collections::HashMap<Address, u64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

impl Chain {
    /// org1 (P-256 CA) and org2 (SM2 CA); admins and clients of both enrolled at genesis;
    /// only admins may deploy contracts.
    fn new() -> Self {
        Self::with_deployment(Default::default())
    }

    /// [`Chain::new`], creating contracts the way `deployment` says.
    fn with_deployment(deployment: ricaas_primitives::system::Deployment) -> Self {
        let org1 = Org::new("org1", KeyAlgorithm::P256);
        let org2 = Org::new("org2", KeyAlgorithm::Sm2);
        let state = ChannelConfigState {
            channel: "default".into(),
            orgs: [("org1", &org1), ("org2", &org2)]
                .into_iter()
                .map(|(name, org)| OrgState {
                    name: name.into(),
                    ca_certificate: hex::encode(
                        ca::certificate_der(org.ca.certificate()).expect("der"),
                    ),
                })
                .collect(),
            policies: PolicyTexts {
                readers: "ANY Members".into(),
                writers: "ANY Members".into(),
                contract_deployers: "ANY Admins".into(),
                admins: "MAJORITY Admins".into(),
                lifecycle: Default::default(),
            },
            validators: vec![],
            validator_addresses: Default::default(),
            observers: Vec::new(),
            epoch_length: 10,
            parameters: Default::default(),
            deployment,
        };
        let consortium = Consortium::new(state).expect("valid configuration");
        let identities = vec![
            org1.certify(&org1.admin, "admin", Role::Admin, 365),
            org1.certify(&org1.client, "client", Role::Client, 365),
            org2.certify(&org2.admin, "admin", Role::Admin, 365),
            org2.certify(&org2.client, "client", Role::Client, 365),
        ];
        let mut changes = system::genesis_state(&consortium, &identities).expect("genesis");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ChainStore::open(&dir.path().join("chain.redb")).expect("open");
        for key in [&org1.admin, &org1.client, &org2.admin, &org2.client] {
            changes.accounts.insert(
                key.address(),
                Some(AccountState {
                    balance: U256::from(10u64).pow(U256::from(18)),
                    ..Default::default()
                }),
            );
        }
        let lattice = store
            .snapshot()
            .expect("snapshot")
            .lattice_after(&changes)
            .expect("lattice");
        let header = Header {
            parent_hash: B256::ZERO,
            height: 0,
            timestamp_ms: now_ms(),
            transactions_root: Block::transactions_root(&[]),
            receipts_root: B256::ZERO,
            state_root: lattice.root(),
            logs_bloom: Bloom::default(),
            gas_limit: RULES.block_gas_limit,
            gas_used: 0,
            beneficiary: Address::ZERO,
        };
        store
            .commit_block(&ExecutedBlock {
                block: Block {
                    header,
                    transactions: vec![],
                },
                receipts: vec![],
                changes,
                lattice,
            })
            .expect("genesis");
        Self {
            _dir: dir,
            store,
            org1,
            org2,
            nonces: Default::default(),
        }
    }

    fn tx(&mut self, key: &DevKey, to: TxKind, input: Vec<u8>) -> RecoveredTx {
        let nonce = self.nonces.entry(key.address()).or_default();
        let unsigned = TypedTransaction::Legacy(TxLegacy {
            chain_id: Some(RULES.chain_id),
            nonce: *nonce,
            gas_price: 0,
            gas_limit: 1_000_000,
            to,
            value: U256::ZERO,
            input: Bytes::from(input),
        });
        *nonce += 1;
        recover_transaction(sign_transaction(unsigned, key.secret())).expect("valid signature")
    }

    fn transfer(&mut self, key: &DevKey) -> RecoveredTx {
        self.tx(key, TxKind::Call(Address::repeat_byte(0x42)), vec![])
    }

    fn enroll(&mut self, admin: &DevKey, certificates: &[&ca::Certificate]) -> RecoveredTx {
        let call = IMembership::enrollCall {
            certificates: certificates
                .iter()
                .map(|c| Bytes::from(ca::certificate_der(c).expect("der")))
                .collect(),
        };
        self.tx(admin, TxKind::Call(MEMBERSHIP_ADDRESS), call.abi_encode())
    }

    fn revoke(&mut self, admin: &DevKey, account: Address) -> RecoveredTx {
        let call = IMembership::revokeCall { account };
        self.tx(admin, TxKind::Call(MEMBERSHIP_ADDRESS), call.abi_encode())
    }

    fn context(&self, after_ms: u64) -> BlockContext {
        let parent = self
            .store
            .snapshot()
            .expect("snapshot")
            .head_header()
            .expect("head");
        BlockContext {
            height: parent.height + 1,
            timestamp_ms: parent.timestamp_ms.max(now_ms()) + after_ms,
            parent_hash: parent.hash(),
            beneficiary: Address::ZERO,
            gas_limit: RULES.block_gas_limit,
        }
    }

    /// Builds and commits a block of `txs`; returns (included receipts' success, refusals).
    fn block(&mut self, txs: Vec<RecoveredTx>) -> (Vec<bool>, Vec<String>) {
        self.block_at(txs, 1_000)
    }

    fn block_at(&mut self, txs: Vec<RecoveredTx>, after_ms: u64) -> (Vec<bool>, Vec<String>) {
        let snapshot = self.store.snapshot().expect("snapshot");
        let context = self.context(after_ms);
        let outcome =
            execute_block(&snapshot, &RULES, &context, txs, Mode::Build).expect("executes");
        let refused = outcome.rejected.iter().map(|r| r.reason.clone()).collect();
        let executed = seal_block(&snapshot, &context, outcome).expect("seals");
        let success = executed.receipts.iter().map(|r| r.success).collect();
        self.store.commit_block(&executed).expect("commits");
        (success, refused)
    }

    /// The revert reason of the single membership call in a block.
    fn reverted(&mut self, tx: RecoveredTx) -> String {
        let snapshot = self.store.snapshot().expect("snapshot");
        let context = self.context(1_000);
        let outcome =
            execute_block(&snapshot, &RULES, &context, vec![tx], Mode::Build).expect("executes");
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
        let receipt = &outcome.receipts[0];
        assert!(!receipt.success, "the call should revert");
        let reason = alloy_sol_types::Revert::abi_decode(&receipt.revert_data)
            .expect("Error(string)")
            .reason;
        let executed = seal_block(&snapshot, &context, outcome).expect("seals");
        self.store.commit_block(&executed).expect("commits");
        reason
    }
}

use alloy_sol_types::SolError as _;

#[test]
fn enrolled_members_write_and_strangers_are_refused_with_the_reason() {
    let mut chain = Chain::new();
    let client = chain.org1.client.clone();
    let stranger = DevKey::random();
    let ok = chain.transfer(&client);
    let refused = chain.transfer(&stranger);
    let (success, refusals) = chain.block(vec![ok, refused]);
    assert_eq!(success, vec![true]);
    assert_eq!(
        refusals,
        vec![format!(
            "sender {} is not enrolled in channel default",
            stranger.address()
        )]
    );
}

#[test]
fn contract_deployers_policy_admits_admins_only() {
    let mut chain = Chain::new();
    let (client, admin) = (chain.org2.client.clone(), chain.org2.admin.clone());
    let stop = vec![0x00];
    let by_client = chain.tx(&client, TxKind::Create, stop.clone());
    let by_admin = chain.tx(&admin, TxKind::Create, stop);
    let (success, refusals) = chain.block(vec![by_client, by_admin]);
    assert_eq!(success, vec![true]);
    assert_eq!(refusals.len(), 1);
    assert!(
        refusals[0].contains("(org2.client) is not allowed by the ContractDeployers policy")
            && refusals[0].contains("ANY Admins"),
        "{}",
        refusals[0]
    );
}

#[test]
fn an_admin_enrolls_a_new_client_who_can_then_write() {
    let mut chain = Chain::new();
    let admin = chain.org1.admin.clone();
    let newcomer = DevKey::random();
    let cert = chain.org1.certify(&newcomer, "newcomer", Role::Client, 30);
    let before = chain.transfer(&newcomer);
    let (_, refusals) = chain.block(vec![before]);
    assert!(refusals[0].contains("is not enrolled"), "{refusals:?}");
    chain.nonces.insert(newcomer.address(), 0);
    // Enrollment and a transfer by the newcomer in the same block: the check sees the
    // membership state as of the newcomer's position in the block.
    let enroll = chain.enroll(&admin, &[&cert]);
    let after = chain.transfer(&newcomer);
    let (success, refusals) = chain.block(vec![enroll, after]);
    assert_eq!((success, refusals), (vec![true, true], vec![]));
    // identityOf reads back what enrollment stored.
    let snapshot = chain.store.snapshot().expect("snapshot");
    let head = snapshot.head_header().expect("head");
    let out = ricaas_execution::call(
        &snapshot,
        &RULES,
        &BlockContext::from(&head),
        &ricaas_execution::CallRequest {
            to: Some(MEMBERSHIP_ADDRESS),
            input: IMembership::identityOfCall {
                account: newcomer.address(),
            }
            .abi_encode()
            .into(),
            ..Default::default()
        },
        None,
    )
    .expect("view call");
    let identity = IMembership::identityOfCall::abi_decode_returns(&out.output).expect("decodes");
    assert_eq!(identity.org, "org1");
    assert_eq!(identity.role, "client");
    assert!(!identity.revoked);
}

#[test]
fn admins_cannot_enroll_for_another_org_and_clients_cannot_enroll_at_all() {
    let mut chain = Chain::new();
    let (admin1, client1) = (chain.org1.admin.clone(), chain.org1.client.clone());
    let newcomer = DevKey::random();
    let org2_cert = chain.org2.certify(&newcomer, "newcomer", Role::Client, 30);
    let reason = {
        let tx = chain.enroll(&admin1, &[&org2_cert]);
        chain.reverted(tx)
    };
    assert!(
        reason.contains("admins of org1 cannot enroll identities of org2"),
        "{reason}"
    );
    let org1_cert = chain.org1.certify(&newcomer, "newcomer", Role::Client, 30);
    let reason = {
        let tx = chain.enroll(&client1, &[&org1_cert]);
        chain.reverted(tx)
    };
    assert!(
        reason.contains("is a client of org1, not an admin"),
        "{reason}"
    );
    // A CA that merely calls itself org2 is not org2's CA.
    let impostor = Org::new("org2", KeyAlgorithm::Secp256k1);
    let forged = impostor.certify(&newcomer, "newcomer", Role::Client, 30);
    let admin2 = chain.org2.admin.clone();
    let reason = {
        let tx = chain.enroll(&admin2, &[&forged]);
        chain.reverted(tx)
    };
    assert!(reason.contains("signature does not verify"), "{reason}");
    // Nothing was enrolled.
    let attempt = chain.transfer(&newcomer);
    let (_, refusals) = chain.block(vec![attempt]);
    assert!(refusals[0].contains("is not enrolled"), "{refusals:?}");
}

#[test]
fn a_certificate_one_org_ca_issued_in_another_orgs_name_is_refused() {
    let mut chain = Chain::new();
    // org1's CA key signs a certificate whose subject and issuer claim org2 (what a rogue
    // org1 CA operator could do with any X.509 tool).
    let newcomer = DevKey::random();
    let spki = newcomer.identity_key().public_key_info().expect("spki");
    let org1_key = IdentityKey::from_pkcs8_pem(&chain.org1.ca.key().to_pkcs8_pem().expect("pem"))
        .expect("key");
    let rogue = CertificateAuthority::root_with_key("org2", org1_key, 30).expect("CA");
    let cert = rogue
        .issue("evil", Role::Admin, spki, 30)
        .expect("issued in org2's name");
    assert_eq!(
        cert.tbs_certificate.issuer,
        chain.org2.ca.certificate().tbs_certificate.subject
    );
    let admin2 = chain.org2.admin.clone();
    let reason = {
        let tx = chain.enroll(&admin2, &[&cert]);
        chain.reverted(tx)
    };
    assert!(
        reason.starts_with("certificate 0:") && reason.contains("signature does not verify"),
        "{reason}"
    );
}

#[test]
fn revoked_accounts_are_refused_from_the_next_transaction_and_cannot_be_reenrolled() {
    let mut chain = Chain::new();
    let (admin1, client1) = (chain.org1.admin.clone(), chain.org1.client.clone());
    let revoke = chain.revoke(&admin1, client1.address());
    let (success, _) = chain.block(vec![revoke]);
    assert_eq!(success, vec![true]);
    let revoked_at = chain
        .store
        .snapshot()
        .expect("snapshot")
        .head_header()
        .expect("head")
        .height;
    let attempt = chain.transfer(&client1);
    let (_, refusals) = chain.block(vec![attempt]);
    assert_eq!(
        refusals,
        vec![format!(
            "sender {}: certificate revoked at height {revoked_at}",
            client1.address()
        )]
    );
    let renewed = chain.org1.certify(&client1, "client", Role::Client, 30);
    let reason = {
        let tx = chain.enroll(&admin1, &[&renewed]);
        chain.reverted(tx)
    };
    assert!(reason.contains("was revoked at height"), "{reason}");
    // Admins of another organization cannot revoke org1's accounts.
    let admin2 = chain.org2.admin.clone();
    let reason = {
        let tx = chain.revoke(&admin2, admin1.address());
        chain.reverted(tx)
    };
    assert!(
        reason.contains("admins of org2 cannot revoke identities of org1"),
        "{reason}"
    );
}

#[test]
fn expired_certificates_stop_writing_at_their_not_after() {
    let mut chain = Chain::new();
    let admin = chain.org1.admin.clone();
    let short = DevKey::random();
    let cert = chain.org1.certify(&short, "short", Role::Client, 1);
    let enroll = chain.enroll(&admin, &[&cert]);
    chain.block(vec![enroll]);
    let attempt = chain.transfer(&short);
    let (_, refusals) = chain.block_at(vec![attempt], 2 * 86_400 * 1000);
    assert_eq!(refusals.len(), 1);
    assert!(
        refusals[0].contains("certificate expired at"),
        "{}",
        refusals[0]
    );
}

#[test]
fn a_block_carrying_an_unauthorized_transaction_does_not_verify() {
    let mut chain = Chain::new();
    let stranger = DevKey::random();
    let snapshot = chain.store.snapshot().expect("snapshot");
    let context = chain.context(1_000);
    // A Byzantine proposer builds the block without checks: here, by sealing a block built
    // by an honest builder and then swapping in the stranger's transaction.
    let honest = {
        let tx = chain.transfer(&chain.org1.client.clone());
        execute_block(&snapshot, &RULES, &context, vec![tx], Mode::Build).expect("executes")
    };
    let mut forged = seal_block(&snapshot, &context, honest)
        .expect("seals")
        .block;
    forged.transactions = vec![chain.transfer(&stranger)];
    match verify_block(&snapshot, &RULES, &forged, TransactionsRoot::Compute) {
        Err(ExecutionError::InvalidTransaction { reason, .. }) => {
            assert!(
                reason.contains("is not enrolled in channel default"),
                "{reason}"
            )
        }
        other => panic!("expected the block to be refused, got {other:?}"),
    }
}

mod governance {
    use super::*;
    use ricaas_primitives::system::{GOVERNANCE_ADDRESS, IGovernance};

    impl Chain {
        fn govern(&mut self, admin: &DevKey, call: Vec<u8>) -> RecoveredTx {
            self.tx(admin, TxKind::Call(GOVERNANCE_ADDRESS), call)
        }

        fn head(&self) -> u64 {
            self.store
                .snapshot()
                .expect("snapshot")
                .head_header()
                .expect("head")
                .height
        }

        fn proposal(&self, id: u64) -> serde_json::Value {
            let snapshot = self.store.snapshot().expect("snapshot");
            let head = snapshot.head_header().expect("head");
            let out = ricaas_execution::call(
                &snapshot,
                &RULES,
                &BlockContext::from(&head),
                &ricaas_execution::CallRequest {
                    to: Some(GOVERNANCE_ADDRESS),
                    input: IGovernance::proposalCall { id }.abi_encode().into(),
                    ..Default::default()
                },
                None,
            )
            .expect("view call");
            let json = IGovernance::proposalCall::abi_decode_returns(&out.output).expect("json");
            serde_json::from_str(&json).expect("proposal JSON")
        }

        /// The governance contract's `configuration()` view, parsed.
        fn configuration_view(&self) -> serde_json::Value {
            let snapshot = self.store.snapshot().expect("snapshot");
            let head = snapshot.head_header().expect("head");
            let out = ricaas_execution::call(
                &snapshot,
                &RULES,
                &BlockContext::from(&head),
                &ricaas_execution::CallRequest {
                    to: Some(GOVERNANCE_ADDRESS),
                    input: IGovernance::configurationCall {}.abi_encode().into(),
                    ..Default::default()
                },
                None,
            )
            .expect("view call");
            let json =
                IGovernance::configurationCall::abi_decode_returns(&out.output).expect("json");
            serde_json::from_str(&json).expect("configuration JSON")
        }

        /// Empty blocks until the head reaches `height`.
        fn advance_to(&mut self, height: u64) {
            while self.head() < height {
                self.block(vec![]);
            }
        }
    }

    fn set_policy(policy: &str, text: &str, at: u64) -> Vec<u8> {
        IGovernance::proposeSetPolicyCall {
            policy: policy.into(),
            text: text.into(),
            effectiveHeight: at,
        }
        .abi_encode()
    }

    #[test]
    fn a_policy_change_needs_the_admins_policy_and_applies_at_its_height() {
        let mut chain = Chain::new();
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let client2 = chain.org2.client.clone();
        let at = chain.head() + 8;
        let propose = chain.govern(&admin1, set_policy("contract_deployers", "ANY Members", at));
        let (success, _) = chain.block(vec![propose]);
        assert_eq!(success, vec![true]);
        let proposal = chain.proposal(0);
        assert_eq!(proposal["status"]["state"], "voting", "{proposal}");
        assert_eq!(proposal["approvals"], serde_json::json!(["org1"]));
        // A client's vote does not count; the same org cannot vote twice.
        let reason = {
            let tx = chain.govern(&client2, IGovernance::voteCall { id: 0 }.abi_encode());
            chain.reverted(tx)
        };
        assert!(
            reason.contains("is a client of org2, not an admin"),
            "{reason}"
        );
        let reason = {
            let tx = chain.govern(&admin1, IGovernance::voteCall { id: 0 }.abi_encode());
            chain.reverted(tx)
        };
        assert!(
            reason.contains("org1 already voted for proposal 0"),
            "{reason}"
        );
        // MAJORITY of two organizations is both: org2's admin approves.
        let vote = chain.govern(&admin2, IGovernance::voteCall { id: 0 }.abi_encode());
        assert_eq!(chain.block(vec![vote]).0, vec![true]);
        assert_eq!(chain.proposal(0)["status"]["state"], "approved");
        // Until the effective height the old policy holds.
        let early = chain.tx(&client2, TxKind::Create, vec![0x00]);
        let (_, refusals) = chain.block(vec![early]);
        assert!(refusals[0].contains("ContractDeployers"), "{refusals:?}");
        // The refused deployment consumed no nonce (its vote, which reverted, did).
        chain.nonces.insert(client2.address(), 1);
        chain.advance_to(at - 1);
        let deploy = chain.tx(&client2, TxKind::Create, vec![0x00]);
        let (success, refusals) = chain.block(vec![deploy]);
        assert_eq!((success, refusals), (vec![true], vec![]));
        assert_eq!(
            chain.proposal(0)["status"],
            serde_json::json!({"state": "applied", "height": at})
        );
    }

    #[test]
    fn a_proposal_not_approved_before_its_deadline_expires_and_takes_no_more_votes() {
        let mut chain = Chain::new();
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let lifetime = |seconds: u64| IGovernance::proposeSetParameterCall {
            name: "proposal_lifetime_seconds".into(),
            value: U256::from(seconds),
            effectiveHeight: 0,
        };
        // Out of range is refused up front.
        let tx = chain.govern(&admin1, lifetime(5).abi_encode());
        let reason = chain.reverted(tx);
        assert!(reason.contains("between 60 and"), "{reason}");
        // Two minutes, by vote of both organizations (proposal 0, default lifetime of a week).
        let propose = chain.govern(&admin1, lifetime(120).abi_encode());
        let vote = chain.govern(&admin2, IGovernance::voteCall { id: 0 }.abi_encode());
        assert_eq!(chain.block(vec![propose, vote]).0, vec![true, true]);
        let first = chain.proposal(0);
        let made_at = first["expires_at"].as_u64().expect("deadline") - 7 * 24 * 3600;
        chain.advance_to(chain.head() + 1);
        assert_eq!(chain.proposal(0)["status"]["state"], "applied");

        // Proposal 1 now closes two minutes of block time after the block that holds it.
        let propose = chain.govern(&admin1, set_policy("contract_deployers", "ANY Members", 0));
        assert_eq!(chain.block(vec![propose]).0, vec![true]);
        let proposal = chain.proposal(1);
        assert_eq!(proposal["status"]["state"], "voting");
        let deadline = proposal["expires_at"].as_u64().expect("deadline");
        assert!(deadline >= made_at + 120, "{proposal}");
        let count = {
            let snapshot = chain.store.snapshot().expect("snapshot");
            let head = snapshot.head_header().expect("head");
            let out = ricaas_execution::call(
                &snapshot,
                &RULES,
                &BlockContext::from(&head),
                &ricaas_execution::CallRequest {
                    to: Some(GOVERNANCE_ADDRESS),
                    input: IGovernance::proposalCountCall {}.abi_encode().into(),
                    ..Default::default()
                },
                None,
            )
            .expect("view call");
            IGovernance::proposalCountCall::abi_decode_returns(&out.output).expect("count")
        };
        assert_eq!(count, 2);
        // Three minutes later org2's vote comes too late: refused with the reason, never applied.
        let late = chain.govern(&admin2, IGovernance::voteCall { id: 1 }.abi_encode());
        let (success, _) = chain.block_at(vec![late], 180_000);
        assert_eq!(success, vec![false]);
        let expired = chain.proposal(1);
        assert_eq!(
            expired["status"],
            serde_json::json!({"state": "expired", "at": deadline})
        );
        let again = chain.govern(&admin2, IGovernance::voteCall { id: 1 }.abi_encode());
        let reason = chain.reverted(again);
        assert!(
            reason.contains("proposal 1 expired at") && reason.contains("propose the change again"),
            "{reason}"
        );
        chain.advance_to(chain.head() + 3);
        assert_eq!(chain.proposal(1)["status"]["state"], "expired");
        assert_eq!(expired["approvals"], serde_json::json!(["org1"]));
    }

    #[test]
    fn a_chain_parameter_changes_by_vote_at_its_height() {
        let mut chain = Chain::new();
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let client = chain.org1.client.clone();
        let reason = {
            let tx = chain.govern(
                &admin1,
                IGovernance::proposeSetParameterCall {
                    name: "block_interval".into(),
                    value: U256::from(1),
                    effectiveHeight: 10,
                }
                .abi_encode(),
            );
            chain.reverted(tx)
        };
        assert!(reason.contains("unknown parameter"), "{reason}");
        let at = chain.head() + 3;
        let propose = chain.govern(
            &admin1,
            IGovernance::proposeSetParameterCall {
                name: "tx_gas_limit".into(),
                value: U256::from(30_000),
                effectiveHeight: at,
            }
            .abi_encode(),
        );
        let vote = chain.govern(&admin2, IGovernance::voteCall { id: 0 }.abi_encode());
        assert_eq!(chain.block(vec![propose, vote]).0, vec![true, true]);
        // Chain::tx asks for 1,000,000 gas: fine before, over the cap after.
        let before = chain.transfer(&client);
        assert_eq!(chain.block(vec![before]).1, Vec::<String>::new());
        chain.advance_to(at);
        let after = chain.transfer(&client);
        let (_, refusals) = chain.block(vec![after]);
        assert_eq!(refusals.len(), 1);
        assert!(
            refusals[0].contains("greater than the cap (30000)"),
            "{refusals:?}"
        );
    }

    #[test]
    fn strangers_cannot_propose_and_invalid_changes_are_refused_up_front() {
        let mut chain = Chain::new();
        let stranger = DevKey::random();
        let admin1 = chain.org1.admin.clone();
        let attempt = chain.govern(&stranger, set_policy("writers", "ANY Members", 10));
        let (_, refusals) = chain.block(vec![attempt]);
        assert!(refusals[0].contains("is not enrolled"), "{refusals:?}");
        let reason = {
            let tx = chain.govern(&admin1, set_policy("writers", "ANY org9.client", 10));
            chain.reverted(tx)
        };
        assert!(
            reason.starts_with("the change would make an invalid configuration: Writers policy"),
            "{reason}"
        );
        let reason = {
            let tx = chain.govern(
                &admin1,
                IGovernance::proposeRemoveValidatorCall {
                    nodeKey: B256::ZERO,
                    effectiveHeight: 10,
                }
                .abi_encode(),
            );
            chain.reverted(tx)
        };
        assert!(
            reason.ends_with(&format!(
                "{} is not a validator of this channel",
                hex::encode(B256::ZERO)
            )),
            "{reason}"
        );
    }

    /// A node certificate of `org` for a fresh Ed25519 key; returns it (DER) and the key.
    fn node_certificate(org: &Org, name: &str, role: Role) -> (Bytes, [u8; 32]) {
        let key = IdentityKey::generate(KeyAlgorithm::Ed25519);
        let certificate = org
            .ca
            .issue(name, role, key.public_key_info().expect("spki"), 30)
            .expect("issued");
        let public = ca::ed25519_key_of(&certificate).expect("ed25519");
        (
            ca::certificate_der(&certificate).expect("der").into(),
            public,
        )
    }

    fn configuration(chain: &Chain) -> ChannelConfigState {
        let snapshot = chain.store.snapshot().expect("snapshot");
        Consortium::load(&mut system::StateSlots(&snapshot))
            .expect("loads")
            .expect("a consortium channel")
            .state()
            .clone()
    }

    #[test]
    fn validators_are_added_and_removed_by_vote_with_their_addresses() {
        let mut chain = Chain::new();
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let add = |certificate: &Bytes, address: &str, at: u64| {
            IGovernance::proposeAddValidatorCall {
                nodeCertificate: certificate.clone(),
                p2pAddress: address.into(),
                effectiveHeight: at,
            }
            .abi_encode()
        };
        // Refused up front: a client certificate, a non-Ed25519 node key, a bad address.
        let (client_cert, _) = node_certificate(&chain.org1, "not-a-node", Role::Client);
        let tx = chain.govern(&admin1, add(&client_cert, "10.0.0.5:9000", 10));
        let reason = chain.reverted(tx);
        assert!(reason.contains("role is client, not node"), "{reason}");
        let p256 = IdentityKey::generate(KeyAlgorithm::P256);
        let p256_cert = chain
            .org1
            .ca
            .issue(
                "p256-node",
                Role::Node,
                p256.public_key_info().expect("spki"),
                30,
            )
            .expect("issued");
        let p256_der: Bytes = ca::certificate_der(&p256_cert).expect("der").into();
        let tx = chain.govern(&admin1, add(&p256_der, "10.0.0.5:9000", 10));
        let reason = chain.reverted(tx);
        assert!(reason.contains("node key must be Ed25519"), "{reason}");
        let (node5, key5) = node_certificate(&chain.org2, "node5", Role::Node);
        let tx = chain.govern(&admin1, add(&node5, "validator-5:9000", 10));
        let reason = chain.reverted(tx);
        assert!(reason.contains("is not an ip:port address"), "{reason}");
        // A node certificate org1's CA issued in org2's name is refused.
        let forged_key = IdentityKey::generate(KeyAlgorithm::Ed25519);
        let forged = ca::CertificateAuthority::new_root("org2", KeyAlgorithm::P256, 30)
            .expect("CA")
            .issue(
                "forged",
                Role::Node,
                forged_key.public_key_info().expect("spki"),
                30,
            )
            .expect("issued");
        let forged: Bytes = ca::certificate_der(&forged).expect("der").into();
        let tx = chain.govern(&admin1, add(&forged, "10.0.0.6:9000", 10));
        let reason = chain.reverted(tx);
        assert!(
            reason.starts_with(
                "the change would make an invalid configuration: validator certificate 0"
            ),
            "{reason}"
        );

        // Proposed by org1, not applied before org2's vote (MAJORITY of two needs both).
        let at = chain.head() + 3;
        let propose = chain.govern(&admin1, add(&node5, "10.0.0.5:9000", at));
        assert_eq!(chain.block(vec![propose]).0, vec![true]);
        chain.advance_to(at + 1);
        assert!(configuration(&chain).validators.is_empty());
        let at = chain.head() + 2;
        let vote = chain.govern(&admin2, IGovernance::voteCall { id: 0 }.abi_encode());
        assert_eq!(chain.block(vec![vote]).0, vec![true]);
        chain.advance_to(at);
        let config = configuration(&chain);
        assert_eq!(config.validators, vec![hex::encode(&node5)]);
        assert_eq!(
            config.validator_addresses.get(&hex::encode(key5)),
            Some(&"10.0.0.5:9000".parse().expect("addr"))
        );

        // The same key twice, and a second validator on the same address, are refused.
        let tx = chain.govern(&admin1, add(&node5, "10.0.0.7:9000", 10));
        let reason = chain.reverted(tx);
        assert!(
            reason.contains("the same node key is listed twice"),
            "{reason}"
        );
        let (node6, key6) = node_certificate(&chain.org1, "node6", Role::Node);
        let tx = chain.govern(&admin1, add(&node6, "10.0.0.5:9000", 10));
        let reason = chain.reverted(tx);
        assert!(reason.contains("10.0.0.5:9000 is already used"), "{reason}");

        // Add node6, then remove node5; the last validator cannot be removed.
        let at = chain.head() + 2;
        let propose = chain.govern(&admin1, add(&node6, "10.0.0.6:9000", at));
        let vote = chain.govern(&admin2, IGovernance::voteCall { id: 1 }.abi_encode());
        assert_eq!(chain.block(vec![propose, vote]).0, vec![true, true]);
        chain.advance_to(at);
        let remove = |key: [u8; 32], at: u64| {
            IGovernance::proposeRemoveValidatorCall {
                nodeKey: B256::from(key),
                effectiveHeight: at,
            }
            .abi_encode()
        };
        let at = chain.head() + 2;
        let propose = chain.govern(&admin2, remove(key5, at));
        let vote = chain.govern(&admin1, IGovernance::voteCall { id: 2 }.abi_encode());
        assert_eq!(chain.block(vec![propose, vote]).0, vec![true, true]);
        chain.advance_to(at);
        let config = configuration(&chain);
        assert_eq!(config.validators, vec![hex::encode(&node6)]);
        assert!(!config.validator_addresses.contains_key(&hex::encode(key5)));
        assert_eq!(chain.proposal(2)["status"]["state"], "applied");
        let tx = chain.govern(&admin1, remove(key6, chain.head() + 2));
        let reason = chain.reverted(tx);
        assert!(
            reason.ends_with("the channel's last validator cannot be removed"),
            "{reason}"
        );
        // org1 runs a validator now: it cannot be removed before its validator.
        let tx = chain.govern(
            &admin2,
            IGovernance::proposeRemoveOrgCall {
                name: "org1".into(),
                effectiveHeight: chain.head() + 2,
            }
            .abi_encode(),
        );
        let reason = chain.reverted(tx);
        assert!(reason.ends_with("organization org1 still runs validators: remove them first (proposeRemoveValidator)"), "{reason}");
    }

    /// An organization lists its own nodes as observers without a vote (they replicate what
    /// its members may read anyway, and never vote); no one lists or removes another's nodes;
    /// an observer voted in as a validator leaves the observer list, and an organization's
    /// observers leave with it.
    #[test]
    fn organizations_list_and_remove_their_own_observers() {
        let mut chain = Chain::new();
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let client1 = chain.org1.client.clone();
        let add = |certificate: &Bytes| {
            IMembership::addObserverCall {
                nodeCertificate: certificate.clone(),
            }
            .abi_encode()
        };
        let remove = |key: [u8; 32]| {
            IMembership::removeObserverCall {
                nodeKey: B256::from(key),
            }
            .abi_encode()
        };
        let member = |chain: &mut Chain, who: &DevKey, call: Vec<u8>| {
            chain.tx(who, TxKind::Call(MEMBERSHIP_ADDRESS), call)
        };
        let (obs1, key1) = node_certificate(&chain.org1, "observer1", Role::Node);
        let (obs2, key2) = node_certificate(&chain.org2, "observer2", Role::Node);

        // Refusals, each with its reason.
        let tx = member(&mut chain, &client1, add(&obs1));
        let reason = chain.reverted(tx);
        assert!(reason.contains("not an admin"), "{reason}");
        let tx = member(&mut chain, &admin1, add(&obs2));
        let reason = chain.reverted(tx);
        assert!(
            reason.contains("admins of org1 cannot list nodes of org2"),
            "{reason}"
        );
        let (client_cert, _) = node_certificate(&chain.org1, "client-cert", Role::Client);
        let tx = member(&mut chain, &admin1, add(&client_cert));
        let reason = chain.reverted(tx);
        assert!(reason.contains("role is client, not node"), "{reason}");
        let tx = member(&mut chain, &admin1, add(&Bytes::from_static(b"not DER")));
        let reason = chain.reverted(tx);
        assert!(!reason.is_empty());

        // Two observers listed in one block: the second sees the first's configuration.
        let first = member(&mut chain, &admin1, add(&obs1));
        let second = member(&mut chain, &admin2, add(&obs2));
        assert_eq!(chain.block(vec![first, second]).0, vec![true, true]);
        let config = configuration(&chain);
        assert_eq!(
            config.observers,
            vec![hex::encode(&obs1), hex::encode(&obs2)]
        );
        assert!(config.validators.is_empty());
        // The governance contract shows them, keys and organizations, to any reader.
        let shown = chain.configuration_view();
        assert_eq!(shown["observers"][0]["org"], "org1");
        assert_eq!(shown["observers"][0]["key"], hex::encode(key1));
        assert_eq!(shown["observers"][1]["org"], "org2");
        assert_eq!(shown["orgs"], serde_json::json!(["org1", "org2"]));
        assert_eq!(shown["policies"]["admins"], "MAJORITY Admins");
        let tx = member(&mut chain, &admin1, add(&obs1));
        let reason = chain.reverted(tx);
        assert!(reason.contains("is already an observer"), "{reason}");

        // org2 cannot remove org1's observer; org1 can.
        let tx = member(&mut chain, &admin2, remove(key1));
        let reason = chain.reverted(tx);
        assert!(
            reason.contains("admins of org2 cannot remove observers of org1"),
            "{reason}"
        );
        let tx = member(&mut chain, &admin1, remove(key1));
        assert_eq!(chain.block(vec![tx]).0, vec![true]);
        assert_eq!(configuration(&chain).observers, vec![hex::encode(&obs2)]);
        let tx = member(&mut chain, &admin1, remove(key1));
        let reason = chain.reverted(tx);
        assert!(reason.contains("is not an observer"), "{reason}");

        // An organization removed by vote takes its observers with it.
        let (obs4, _) = node_certificate(&chain.org1, "observer4", Role::Node);
        let tx = member(&mut chain, &admin1, add(&obs4));
        assert_eq!(chain.block(vec![tx]).0, vec![true]);
        let at = chain.head() + 2;
        let propose = chain.govern(
            &admin2,
            IGovernance::proposeRemoveOrgCall {
                name: "org1".into(),
                effectiveHeight: at,
            }
            .abi_encode(),
        );
        let vote = chain.govern(&admin1, IGovernance::voteCall { id: 0 }.abi_encode());
        assert_eq!(chain.block(vec![propose, vote]).0, vec![true, true]);
        chain.advance_to(at);
        let config = configuration(&chain);
        assert_eq!(config.orgs.len(), 1);
        assert_eq!(config.observers, vec![hex::encode(&obs2)]);

        // A Readers policy that leaves nodes out refuses observers.
        let at = chain.head() + 2;
        let propose = chain.govern(
            &admin2,
            IGovernance::proposeSetPolicyCall {
                policy: "readers".into(),
                text: "ANY Admins".into(),
                effectiveHeight: at,
            }
            .abi_encode(),
        );
        assert_eq!(chain.block(vec![propose]).0, vec![true]);
        chain.advance_to(at);
        let (obs3, _) = node_certificate(&chain.org2, "observer3", Role::Node);
        let tx = member(&mut chain, &admin2, add(&obs3));
        let reason = chain.reverted(tx);
        assert!(
            reason.contains("Readers policy (ANY Admins) does not admit nodes of org2"),
            "{reason}"
        );

        // org2's observer, voted in as a validator, is a validator and no longer an observer.
        let at = chain.head() + 2;
        let propose = chain.govern(
            &admin2,
            IGovernance::proposeAddValidatorCall {
                nodeCertificate: obs2.clone(),
                p2pAddress: "10.0.0.2:9000".into(),
                effectiveHeight: at,
            }
            .abi_encode(),
        );
        assert_eq!(chain.block(vec![propose]).0, vec![true]);
        chain.advance_to(at);
        let config = configuration(&chain);
        assert_eq!(config.validators, vec![hex::encode(&obs2)]);
        assert!(config.observers.is_empty(), "{:?}", config.observers);
        assert_eq!(chain.proposal(2)["status"]["state"], "applied");
        let tx = member(&mut chain, &admin2, remove(key2));
        let reason = chain.reverted(tx);
        assert!(reason.contains("is not an observer"), "{reason}");
    }

    #[test]
    fn governance_revokes_and_removes_and_adds_organizations() {
        let mut chain = Chain::new();
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let client1 = chain.org1.client.clone();
        // Revoke org1's client by vote.
        let at = chain.head() + 3;
        let propose = chain.govern(
            &admin2,
            IGovernance::proposeRevokeCall {
                account: client1.address(),
                effectiveHeight: at,
            }
            .abi_encode(),
        );
        let vote = chain.govern(&admin1, IGovernance::voteCall { id: 0 }.abi_encode());
        assert_eq!(chain.block(vec![propose, vote]).0, vec![true, true]);
        chain.advance_to(at);
        let attempt = chain.transfer(&client1);
        let (_, refusals) = chain.block(vec![attempt]);
        assert_eq!(
            refusals,
            vec![format!(
                "sender {}: certificate revoked at height {at}",
                client1.address()
            )]
        );

        // Add org3 with its first admin, who then enrolls org3's client.
        let org3 = Org::new("org3", KeyAlgorithm::Ed25519);
        let admin3_cert = org3.certify(&org3.admin, "admin", Role::Admin, 30);
        let at = chain.head() + 2;
        let propose = chain.govern(
            &admin1,
            IGovernance::proposeAddOrgCall {
                name: "org3".into(),
                caCertificate: ca::certificate_der(org3.ca.certificate())
                    .expect("der")
                    .into(),
                admins: vec![ca::certificate_der(&admin3_cert).expect("der").into()],
                effectiveHeight: at,
            }
            .abi_encode(),
        );
        let vote = chain.govern(&admin2, IGovernance::voteCall { id: 1 }.abi_encode());
        assert_eq!(chain.block(vec![propose, vote]).0, vec![true, true]);
        chain.advance_to(at);
        assert_eq!(chain.proposal(1)["status"]["state"], "applied");
        let client3_cert = org3.certify(&org3.client, "client", Role::Client, 30);
        let admin3 = org3.admin.clone();
        let client3 = org3.client.clone();
        let enroll = chain.enroll(&admin3, &[&client3_cert]);
        let transfer = chain.transfer(&client3);
        assert_eq!(
            chain.block(vec![enroll, transfer]),
            (vec![true, true], vec![])
        );

        // Remove org2: now MAJORITY of three needs two organizations.
        let at = chain.head() + 2;
        let propose = chain.govern(
            &admin1,
            IGovernance::proposeRemoveOrgCall {
                name: "org2".into(),
                effectiveHeight: at,
            }
            .abi_encode(),
        );
        let vote = chain.govern(&admin3, IGovernance::voteCall { id: 2 }.abi_encode());
        assert_eq!(chain.block(vec![propose, vote]).0, vec![true, true]);
        chain.advance_to(at);
        let client2 = chain.org2.client.clone();
        let attempt = chain.transfer(&client2);
        let (_, refusals) = chain.block(vec![attempt]);
        assert_eq!(
            refusals,
            vec![format!(
                "sender {} belongs to org2, which is not a member of channel default",
                client2.address()
            )]
        );
    }
}

/// The contract lifecycle: deployments approved by proposal, freezes, upgrades and
/// revocations voted under per-action policies and enforced on every call path.
mod lifecycle {
    use super::*;
    use alloy_primitives::keccak256;
    use ricaas_primitives::system::{
        Deployment, GOVERNANCE_ADDRESS, IGovernance, ILifecycle, LIFECYCLE_ADDRESS,
    };

    /// Runtime code of a counter: each call adds `step` to slot 0 and returns the new value.
    fn counter(step: u8) -> Vec<u8> {
        vec![
            0x60, 0x00, 0x54, 0x60, step, 0x01, 0x80, 0x60, 0x00, 0x55, 0x60, 0x00, 0x52, 0x60,
            0x20, 0x60, 0x00, 0xf3,
        ]
    }

    /// Runtime code of a relay: calls the address in its calldata and returns its 32-byte
    /// answer, or reverts with the callee's revert data.
    fn relay() -> Vec<u8> {
        vec![
            0x60, 0x20, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x35, 0x5a,
            0xf1, 0x15, 0x60, 0x18, 0x57, 0x60, 0x20, 0x60, 0x00, 0xf3, 0x5b, 0x3d, 0x60, 0x00,
            0x60, 0x00, 0x3e, 0x3d, 0x60, 0x00, 0xfd,
        ]
    }

    /// Creation code that installs `runtime`.
    fn creation(runtime: &[u8]) -> Vec<u8> {
        let len = runtime.len() as u8;
        let mut code = vec![
            0x60, len, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
        ];
        code.extend_from_slice(runtime);
        code
    }

    const ABI: &str = r#"[{"type":"fallback","stateMutability":"nonpayable"}]"#;

    fn propose_deploy(name: &str, init_code: &[u8]) -> Vec<u8> {
        ILifecycle::proposeDeployCall {
            name: name.into(),
            initCodeHash: keccak256(init_code),
            abi: ABI.into(),
            sourceHash: B256::repeat_byte(1),
            compiler: "solc 0.8.26".into(),
            reportHash: B256::ZERO,
            effectiveHeight: 0,
        }
        .abi_encode()
    }

    fn propose_state(kind: &str, name: &str) -> Vec<u8> {
        let name = name.to_string();
        match kind {
            "freeze" => ILifecycle::proposeFreezeCall {
                name,
                effectiveHeight: 0,
            }
            .abi_encode(),
            "unfreeze" => ILifecycle::proposeUnfreezeCall {
                name,
                effectiveHeight: 0,
            }
            .abi_encode(),
            _ => ILifecycle::proposeRevokeCall {
                name,
                effectiveHeight: 0,
            }
            .abi_encode(),
        }
    }

    fn propose_upgrade(name: &str, runtime: Vec<u8>) -> Vec<u8> {
        ILifecycle::proposeUpgradeCall {
            name: name.into(),
            runtimeCode: runtime.into(),
            abi: ABI.into(),
            sourceHash: B256::repeat_byte(2),
            compiler: "solc 0.8.26".into(),
            reportHash: B256::repeat_byte(3),
            effectiveHeight: 0,
        }
        .abi_encode()
    }

    impl Chain {
        fn lifecycle(&mut self, admin: &DevKey, call: Vec<u8>) -> RecoveredTx {
            self.tx(admin, TxKind::Call(LIFECYCLE_ADDRESS), call)
        }

        fn height(&self) -> u64 {
            self.store
                .snapshot()
                .expect("snapshot")
                .head_header()
                .expect("head")
                .height
        }

        /// The id of the proposal a successful propose transaction just made.
        fn last_proposal(&self) -> u64 {
            let snapshot = self.store.snapshot().expect("snapshot");
            let head = snapshot.head_header().expect("head");
            let out = ricaas_execution::call(
                &snapshot,
                &RULES,
                &BlockContext::from(&head),
                &ricaas_execution::CallRequest {
                    to: Some(GOVERNANCE_ADDRESS),
                    input: IGovernance::proposalCountCall {}.abi_encode().into(),
                    ..Default::default()
                },
                None,
            )
            .expect("view call");
            IGovernance::proposalCountCall::abi_decode_returns(&out.output).expect("count") - 1
        }

        /// `proposer` proposes `call` (its organization's vote), the other organization's
        /// admin votes; the change applies in the next block. Returns the height it applied at.
        fn approve(&mut self, proposer: &DevKey, call: Vec<u8>) -> u64 {
            let propose = self.lifecycle(proposer, call);
            assert_eq!(self.block(vec![propose]), (vec![true], vec![]));
            let id = self.last_proposal();
            let voter = if proposer.address() == self.org1.admin.address() {
                self.org2.admin.clone()
            } else {
                self.org1.admin.clone()
            };
            let vote = self.tx(
                &voter,
                TxKind::Call(GOVERNANCE_ADDRESS),
                IGovernance::voteCall { id }.abi_encode(),
            );
            assert_eq!(self.block(vec![vote]), (vec![true], vec![]));
            self.block(vec![]);
            self.height()
        }

        /// Contract `name` of the registry (`contractInfo`), or its revert reason.
        fn contract(&self, name: &str) -> serde_json::Value {
            let snapshot = self.store.snapshot().expect("snapshot");
            let head = snapshot.head_header().expect("head");
            let out = ricaas_execution::call(
                &snapshot,
                &RULES,
                &BlockContext::from(&head),
                &ricaas_execution::CallRequest {
                    to: Some(LIFECYCLE_ADDRESS),
                    input: ILifecycle::contractInfoCall { name: name.into() }
                        .abi_encode()
                        .into(),
                    ..Default::default()
                },
                None,
            )
            .expect("view call");
            let json = ILifecycle::contractInfoCall::abi_decode_returns(&out.output).expect("json");
            serde_json::from_str(&json).expect("record JSON")
        }

        /// Sends a call to `to` with `input`; its 32-byte answer, or its revert reason.
        fn call_contract(
            &mut self,
            key: &DevKey,
            to: Address,
            input: Vec<u8>,
        ) -> Result<U256, String> {
            let snapshot = self.store.snapshot().expect("snapshot");
            let context = self.context(1_000);
            let tx = self.tx(key, TxKind::Call(to), input);
            let outcome = execute_block(&snapshot, &RULES, &context, vec![tx], Mode::Build)
                .expect("executes");
            assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
            let receipt = outcome.receipts[0].clone();
            let executed = seal_block(&snapshot, &context, outcome).expect("seals");
            self.store.commit_block(&executed).expect("commits");
            if receipt.success {
                let snapshot = self.store.snapshot().expect("snapshot");
                Ok(snapshot.storage(&to, &U256::ZERO).expect("slot"))
            } else {
                Err(alloy_sol_types::Revert::abi_decode(&receipt.revert_data)
                    .map(|r| r.reason)
                    .unwrap_or_else(|_| format!("revert data {}", receipt.revert_data)))
            }
        }

        /// Creates a contract from `init_code` sent by `key`: its address, or why it was refused.
        fn create(&mut self, key: &DevKey, init_code: Vec<u8>) -> Result<Address, String> {
            let nonce = self.nonces.get(&key.address()).copied().unwrap_or_default();
            let tx = self.tx(key, TxKind::Create, init_code);
            let (success, refused) = self.block(vec![tx]);
            if let Some(reason) = refused.first() {
                self.nonces.insert(key.address(), nonce);
                return Err(reason.clone());
            }
            assert_eq!(success, vec![true]);
            Ok(key.address().create(nonce))
        }
    }

    #[test]
    fn a_security_gate_set_by_vote_refuses_contract_versions_without_a_report() {
        let mut chain = Chain::with_deployment(Deployment::Approved);
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let gate = |value: u64| IGovernance::proposeSetParameterCall {
            name: "deploy_security_gate".into(),
            value: U256::from(value),
            effectiveHeight: 0,
        };
        let tx = chain.tx(
            &admin1,
            TxKind::Call(GOVERNANCE_ADDRESS),
            gate(3).abi_encode(),
        );
        let reason = chain.reverted(tx);
        assert!(reason.contains("must be 0 (off), 1"), "{reason}");
        // Without the gate a version needs no report.
        let code = creation(&counter(1));
        let open = chain.lifecycle(&admin1, propose_deploy("before", &code));
        assert_eq!(chain.block(vec![open]), (vec![true], vec![]));

        let propose = chain.tx(
            &admin1,
            TxKind::Call(GOVERNANCE_ADDRESS),
            gate(1).abi_encode(),
        );
        assert_eq!(chain.block(vec![propose]).0, vec![true]);
        let id = chain.last_proposal();
        let vote = chain.tx(
            &admin2,
            TxKind::Call(GOVERNANCE_ADDRESS),
            IGovernance::voteCall { id }.abi_encode(),
        );
        assert_eq!(chain.block(vec![vote]).0, vec![true]);
        chain.block(vec![]);

        let refused = chain.lifecycle(&admin1, propose_deploy("after", &code));
        let reason = chain.reverted(refused);
        assert!(
            reason.contains("deploy_security_gate")
                && reason.contains("requires a security report"),
            "{reason}"
        );
        // A version that names its report is proposed as before, and the registry records it.
        let mut with_report =
            ILifecycle::proposeDeployCall::abi_decode(&propose_deploy("after", &code))
                .expect("decodes");
        with_report.reportHash = B256::repeat_byte(7);
        chain.approve(&admin1, with_report.abi_encode());
        chain
            .create(&admin1, code)
            .expect("the approved creation is admitted");
        let record = chain.contract("after");
        assert_eq!(
            record["versions"][0]["report_hash"],
            B256::repeat_byte(7).to_string(),
            "{record}"
        );
        // Freezing carries no code: the gate does not apply.
        let freeze = chain.lifecycle(&admin1, propose_state("freeze", "after"));
        assert_eq!(chain.block(vec![freeze]), (vec![true], vec![]));
    }

    #[test]
    fn an_approved_contract_is_frozen_unfrozen_upgraded_and_revoked_by_vote_and_every_refused_transition_says_why()
     {
        let mut chain = Chain::with_deployment(Deployment::Approved);
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let client1 = chain.org1.client.clone();
        let counter_code = creation(&counter(1));

        // A raw creation is refused in approved mode, naming the proposal route.
        let refused = chain
            .create(&admin1, counter_code.clone())
            .expect_err("refused");
        assert!(
            refused.contains("only through approved proposals"),
            "{refused}"
        );
        assert!(refused.contains("proposeDeploy"), "{refused}");

        // Proposed by org1, not yet approved (MAJORITY of two is both): still refused.
        let propose = chain.lifecycle(&admin1, propose_deploy("counter", &counter_code));
        assert_eq!(chain.block(vec![propose]), (vec![true], vec![]));
        assert!(chain.create(&admin1, counter_code.clone()).is_err());
        // A client cannot vote; org2's admin approves.
        let id = chain.last_proposal();
        let vote = chain.tx(
            &client1,
            TxKind::Call(GOVERNANCE_ADDRESS),
            IGovernance::voteCall { id }.abi_encode(),
        );
        assert!(chain.reverted(vote).contains("not an admin"));
        let vote = chain.tx(
            &admin2,
            TxKind::Call(GOVERNANCE_ADDRESS),
            IGovernance::voteCall { id }.abi_encode(),
        );
        assert_eq!(chain.block(vec![vote]), (vec![true], vec![]));
        chain.block(vec![]);
        assert_eq!(chain.contract("counter")["state"], "approved");
        // Only the proposer's account may send the approved creation.
        let refused = chain
            .create(&admin2, counter_code.clone())
            .expect_err("not the deployer");
        assert!(refused.contains("was approved for account"), "{refused}");
        let counter_at = chain
            .create(&admin1, counter_code.clone())
            .expect("created");
        let record = chain.contract("counter");
        assert_eq!(record["state"], "normal", "{record}");
        assert_eq!(record["address"], serde_json::json!(counter_at));
        assert_eq!(record["versions"][0]["version"], 1);
        assert_eq!(record["versions"][0]["compiler"], "solc 0.8.26");
        // The same name or code cannot be approved again.
        let again = chain.lifecycle(&admin2, propose_deploy("counter", &creation(&counter(5))));
        assert!(
            chain
                .reverted(again)
                .contains("contract name counter is taken")
        );

        // A relay contract, deployed the same way, calls the counter.
        let relay_code = creation(&relay());
        chain.approve(&admin2, propose_deploy("relay", &relay_code));
        let relay_at = chain.create(&admin2, relay_code).expect("relay created");
        let through_relay = |chain: &mut Chain| {
            let mut input = vec![0u8; 12];
            input.extend_from_slice(counter_at.as_slice());
            let key = chain.org1.client.clone();
            chain.call_contract(&key, relay_at, input)
        };
        assert_eq!(
            chain.call_contract(&client1, counter_at, vec![]),
            Ok(U256::from(1))
        );
        assert!(through_relay(&mut chain).is_ok());
        assert_eq!(
            chain
                .store
                .snapshot()
                .expect("snapshot")
                .storage(&counter_at, &U256::ZERO)
                .expect("slot"),
            U256::from(2)
        );

        // Refused transitions of a NORMAL contract.
        let tx = chain.lifecycle(&admin1, propose_state("unfreeze", "counter"));
        assert!(
            chain
                .reverted(tx)
                .contains("contract counter is not frozen")
        );
        let tx = chain.lifecycle(&admin1, propose_state("freeze", "nothing"));
        assert!(
            chain
                .reverted(tx)
                .contains("no contract nothing is registered")
        );

        // Frozen: refused directly and from another contract, saying since which height.
        let frozen_at = chain.approve(&admin2, propose_state("freeze", "counter"));
        assert_eq!(chain.contract("counter")["state"], "frozen");
        let direct = chain
            .call_contract(&client1, counter_at, vec![])
            .expect_err("frozen");
        assert!(direct.contains("is frozen since height"), "{direct}");
        assert!(
            direct.contains(&format!(
                "since height {}",
                chain.contract("counter")["since"]
            )),
            "{direct}"
        );
        assert!(chain.contract("counter")["since"].as_u64().expect("since") <= frozen_at);
        let nested = through_relay(&mut chain).expect_err("frozen behind a relay");
        assert!(
            nested.contains("counter") && nested.contains("is frozen since height"),
            "{nested}"
        );
        let tx = chain.lifecycle(&admin1, propose_state("freeze", "counter"));
        assert!(chain.reverted(tx).contains("already frozen"));
        let tx = chain.lifecycle(&admin1, propose_upgrade("counter", counter(10)));
        assert!(chain.reverted(tx).contains("unfreeze it first"));

        // Unfrozen: it runs again with its storage.
        chain.approve(&admin1, propose_state("unfreeze", "counter"));
        assert_eq!(
            chain.call_contract(&client1, counter_at, vec![]),
            Ok(U256::from(3))
        );

        // Upgraded: same address, same storage, new behaviour; the registry has both versions.
        let tx = chain.lifecycle(&admin1, propose_upgrade("counter", vec![]));
        assert!(chain.reverted(tx).contains("runtime code must be"));
        let upgraded_at = chain.approve(&admin1, propose_upgrade("counter", counter(10)));
        assert_eq!(
            chain.call_contract(&client1, counter_at, vec![]),
            Ok(U256::from(13))
        );
        let record = chain.contract("counter");
        assert_eq!(
            record["versions"].as_array().map(Vec::len),
            Some(2),
            "{record}"
        );
        assert_eq!(
            record["versions"][1]["code_hash"],
            serde_json::json!(keccak256(counter(10)))
        );
        assert!(record["versions"][1]["height"].as_u64().expect("height") <= upgraded_at);
        assert_eq!(record["address"], serde_json::json!(counter_at));

        // Revoked: final.
        chain.approve(&admin2, propose_state("revoke", "counter"));
        let revoked = chain
            .call_contract(&client1, counter_at, vec![])
            .expect_err("revoked");
        assert!(revoked.contains("is revoked since height"), "{revoked}");
        for kind in ["freeze", "unfreeze", "revoke"] {
            let tx = chain.lifecycle(&admin1, propose_state(kind, "counter"));
            let reason = chain.reverted(tx);
            assert!(reason.contains("revocation is final"), "{kind}: {reason}");
        }
        let tx = chain.lifecycle(&admin1, propose_upgrade("counter", counter(1)));
        assert!(chain.reverted(tx).contains("revocation is final"));
        // The storage stays readable for audit.
        assert_eq!(
            chain
                .store
                .snapshot()
                .expect("snapshot")
                .storage(&counter_at, &U256::ZERO)
                .expect("slot"),
            U256::from(13)
        );
    }

    #[test]
    fn direct_mode_creates_freely_and_registers_freezes_by_the_actions_own_policy() {
        let mut chain = Chain::new();
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let client2 = chain.org2.client.clone();
        // ContractDeployers (ANY Admins) admits a raw creation; a client is refused by it.
        assert!(
            chain
                .create(&client2, creation(&counter(1)))
                .expect_err("client")
                .contains("ContractDeployers")
        );
        let at = chain
            .create(&admin1, creation(&counter(1)))
            .expect("created");
        // Registered by proposal; the code must be there.
        let register = |name: &str, target: Address| {
            ILifecycle::proposeRegisterCall {
                name: name.into(),
                target,
                abi: ABI.into(),
                sourceHash: B256::ZERO,
                compiler: "solc 0.8.26".into(),
                reportHash: B256::ZERO,
                effectiveHeight: 0,
            }
            .abi_encode()
        };
        let tx = chain.lifecycle(&admin1, register("nothing", Address::repeat_byte(9)));
        assert!(chain.reverted(tx).contains("no contract code at"));
        let tx = chain.lifecycle(&admin1, register("bad name!", at));
        assert!(chain.reverted(tx).contains("must be 1 to 64 letters"));
        chain.approve(&admin1, register("counter", at));
        assert_eq!(chain.contract("counter")["state"], "normal");
        // Governance makes freezing need any one admin: org2 alone freezes it.
        let policy = IGovernance::proposeSetPolicyCall {
            policy: "contract_freeze".into(),
            text: "ANY Admins".into(),
            effectiveHeight: 0,
        }
        .abi_encode();
        let tx = chain.tx(&admin1, TxKind::Call(GOVERNANCE_ADDRESS), policy);
        assert_eq!(chain.block(vec![tx]).0, vec![true]);
        let id = chain.last_proposal();
        let vote = chain.tx(
            &admin2,
            TxKind::Call(GOVERNANCE_ADDRESS),
            IGovernance::voteCall { id }.abi_encode(),
        );
        assert_eq!(chain.block(vec![vote]).0, vec![true]);
        chain.block(vec![]);
        let freeze = chain.lifecycle(&admin2, propose_state("freeze", "counter"));
        assert_eq!(chain.block(vec![freeze]), (vec![true], vec![]));
        chain.block(vec![]);
        assert_eq!(chain.contract("counter")["state"], "frozen");
        // Unfreezing still needs the default MAJORITY Admins: one vote is not enough.
        let unfreeze = chain.lifecycle(&admin2, propose_state("unfreeze", "counter"));
        assert_eq!(chain.block(vec![unfreeze]), (vec![true], vec![]));
        chain.block(vec![]);
        assert_eq!(chain.contract("counter")["state"], "frozen");
    }

    /// Runtime code of a factory: every call creates an (empty) contract and returns its
    /// address.
    fn factory() -> Vec<u8> {
        vec![
            0x64, 0x60, 0x00, 0x60, 0x00, 0xf3, // PUSH5 init code (PUSH1 0 PUSH1 0 RETURN)
            0x60, 0x00, 0x52, // MSTORE at 0: the init code is bytes 27..32
            0x60, 0x05, 0x60, 0x1b, 0x60, 0x00, 0xf0, // CREATE(value 0, offset 27, size 5)
            0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3, // return the address
        ]
    }

    #[test]
    fn a_contract_creating_contracts_is_refused_where_deployments_are_approved_and_works_where_direct()
     {
        let mut chain = Chain::with_deployment(Deployment::Approved);
        let admin1 = chain.org1.admin.clone();
        let client1 = chain.org1.client.clone();
        let code = creation(&factory());
        chain.approve(&admin1, propose_deploy("factory", &code));
        let factory_address = chain
            .create(&admin1, code)
            .expect("the approved factory is created");
        let call = chain.tx(&client1, TxKind::Call(factory_address), Vec::new());
        let (success, refused) = chain.block(vec![call]);
        assert!(success.is_empty(), "the call was left out of the block");
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0].contains(&format!(
                "would create contract {}",
                factory_address.create(1)
            )) && refused[0].contains("creates contracts only through approved proposals"),
            "{}",
            refused[0]
        );

        // The same factory on a channel of direct deployments creates freely.
        let mut direct = Chain::with_deployment(Deployment::Direct);
        let deployer = direct.org1.admin.clone();
        let client = direct.org1.client.clone();
        let factory_address = direct
            .create(&deployer, creation(&factory()))
            .expect("created directly");
        let call = direct.tx(&client, TxKind::Call(factory_address), Vec::new());
        assert_eq!(direct.block(vec![call]), (vec![true], vec![]));
    }
}

mod readers {
    use super::*;
    use ricaas_execution::system::{Action, StateSlots, check_sender};
    use ricaas_primitives::system::GOVERNANCE_ADDRESS;

    fn decide(chain: &Chain, who: Address, action: Action) -> Result<(), String> {
        let snapshot = chain.store.snapshot().expect("snapshot");
        let consortium = Consortium::load(&mut StateSlots(&snapshot))
            .expect("loads")
            .expect("a consortium channel");
        check_sender(
            &consortium,
            &mut StateSlots(&snapshot),
            who,
            action,
            now_ms() / 1000,
        )
        .expect("state reads")
        .map_err(|e| e.to_string())
    }

    /// Readers, Writers and ContractDeployers are decided separately, from the policies in
    /// state: here Readers is narrowed by governance to org1's members.
    #[test]
    fn each_policy_decides_its_own_action() {
        let mut chain = Chain::new();
        let (admin1, admin2) = (chain.org1.admin.clone(), chain.org2.admin.clone());
        let (client1, client2) = (chain.org1.client.clone(), chain.org2.client.clone());
        for who in [client1.address(), client2.address()] {
            assert_eq!(decide(&chain, who, Action::Read), Ok(()));
            assert_eq!(decide(&chain, who, Action::Write), Ok(()));
        }
        assert!(decide(&chain, client2.address(), Action::Deploy).is_err());
        assert_eq!(decide(&chain, admin2.address(), Action::Deploy), Ok(()));
        let at = {
            let head = chain
                .store
                .snapshot()
                .expect("snapshot")
                .head_header()
                .expect("head")
                .height;
            head + 2
        };
        let propose = chain.tx(
            &admin1,
            TxKind::Call(GOVERNANCE_ADDRESS),
            ricaas_primitives::system::IGovernance::proposeSetPolicyCall {
                policy: "readers".into(),
                text: "ANY org1.member".into(),
                effectiveHeight: at,
            }
            .abi_encode(),
        );
        let vote = chain.tx(
            &admin2,
            TxKind::Call(GOVERNANCE_ADDRESS),
            ricaas_primitives::system::IGovernance::voteCall { id: 0 }.abi_encode(),
        );
        assert_eq!(chain.block(vec![propose, vote]).0, vec![true, true]);
        chain.block(vec![]);
        assert_eq!(decide(&chain, client1.address(), Action::Read), Ok(()));
        assert_eq!(
            decide(&chain, client2.address(), Action::Read),
            Err(format!(
                "sender {} (org2.client) is not allowed by the Readers policy of channel default: ANY org1.member",
                client2.address()
            ))
        );
        // Writing is still open to every member.
        assert_eq!(decide(&chain, client2.address(), Action::Write), Ok(()));
        let stranger = DevKey::random().address();
        assert_eq!(
            decide(&chain, stranger, Action::Read),
            Err(format!(
                "sender {stranger} is not enrolled in channel default"
            ))
        );
    }
}
