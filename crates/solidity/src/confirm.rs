//! Confirmation runs: the compiled contract executed in revm to show that a finding happens,
//! not only that the code reads that way. The contract is created in an empty in-memory state
//! (Cancun rules)
//! by a deployer account, and the flagged function is called by an unrelated account with
//! arguments that point at itself. A finding is confirmed when the run shows its effect:
//! the contract destroyed (`unprotected-selfdestruct`; when guarded by owners anyone can become,
//! after the stranger first called another function — the initializer that made them one), or
//! a storage slot now holding the
//! stranger's address (`unprotected-authority-change`), any slot changed by the stranger's call
//! (`unprotected-setting`). A reentrancy (`reentrancy-eth`) is run
//! as an attack: another account deposits, an attacker contract deposits one ether through each
//! payable function in turn and calls the flagged function, re-entering it from its fallback when
//! paid; the finding is confirmed when the attacker leaves with more than it put in. An
//! `integer-overflow` is confirmed when a stranger's calls leave a wrapped word in storage (see
//! `wrap`: the run shows a wrap of that kind in that function, not which operation made it). An
//! `arbitrary-storage-write` is confirmed when a write through the array changes another
//! variable's slot (see `slot`); `arbitrary-transfer-from` and `arbitrary-call` when a stranger's
//! call makes the contract ask a token to move another account's tokens (see `approval`); a
//! `short-address` when the holder's transfer to an address missing its last byte moves 256
//! times the amount (see `short`; also run on the contracts that inherit the flagged one). Runs that
//! revert, or contracts whose constructor or function cannot be driven this way, leave the
//! finding as the analysis made it.

mod approval;
mod attack;
mod payout;
mod phish;
mod short;
mod slot;
mod wrap;

use crate::Finding;
use alloy_dyn_abi::{DynSolType, DynSolValue, JsonAbiExt as _};
use alloy_json_abi::{Function, JsonAbi, Param};
use alloy_primitives::{Address, Bytes, TxKind, U256, address};
use revm::{
    Context, ExecuteCommitEvm as _, ExecuteEvm as _, MainBuilder as _, MainContext as _,
    context::{
        CfgEnv, TxEnv,
        result::{ExecutionResult, SuccessReason},
    },
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::AccountInfo,
};

/// Creates the contract.
const DEPLOYER: Address = address!("0x00000000000000000000000000000000000d3910");
/// Calls the flagged function: an account the contract has never seen.
const STRANGER: Address = address!("0x000000000000000000000000000000005742a9e4");
const GAS: u64 = 30_000_000;
/// Ether each account starts with (payable constructors and functions get one ether).
const FUNDS: u128 = 1_000_000_000_000_000_000_000;
const ONE_ETHER: u128 = 1_000_000_000_000_000_000;

/// The rules a run can confirm.
pub const CONFIRMABLE: &[&str] = &[
    "unprotected-selfdestruct",
    "unprotected-authority-change",
    "unprotected-setting",
    "misnamed-constructor",
    "reentrancy-eth",
    "integer-overflow",
    "arbitrary-storage-write",
    "unprotected-withdrawal",
    "controlled-delegatecall",
    "tx-origin",
    "arbitrary-transfer-from",
    "arbitrary-call",
    "short-address",
];

/// Where the delegatecall run puts the code the caller chooses: it stores its caller's address
/// in slot 0 (`CALLER PUSH1 0 SSTORE STOP`), which under `delegatecall` is the calling
/// contract's own storage.
const PAYLOAD: Address = address!("0x000000000000000000000000000000000000c0de");
const PAYLOAD_CODE: [u8; 5] = [0x33, 0x60, 0x00, 0x55, 0x00];

/// Marks the findings of `output`'s contracts that a run confirms, and says so in their
/// messages, until `deadline`: findings not tried by then stay as the analysis reported them
/// (the analysis itself is complete; only the demonstration is missing). A short address is
/// also run on the contracts that inherit the flagged one and run its function (a token's
/// transfer is declared in a base, and the token that inherits it gives the deployer a
/// balance); `program` says which.
pub fn confirm(
    output: &ricaas_solc::CompileOutput,
    program: &crate::program::Program<'_>,
    findings: &mut [Finding],
    deadline: std::time::Instant,
) {
    for finding in findings
        .iter_mut()
        .filter(|f| CONFIRMABLE.contains(&f.rule) && !f.function.is_empty())
    {
        let mut candidates = vec![(finding.file.as_str(), finding.contract.as_str())];
        if finding.rule == "short-address" {
            candidates.extend(program.heirs_running(
                &finding.file,
                &finding.contract,
                &finding.function,
            ));
        }
        let mut shown = None;
        for (file, name) in candidates {
            if std::time::Instant::now() > deadline {
                return;
            }
            if let Some(how) = shown_on(output, file, name, finding, deadline) {
                shown = Some(if name == finding.contract {
                    how
                } else {
                    format!("{how}, run on `{name}`, which inherits it")
                });
                break;
            }
        }
        if let Some(how) = shown {
            finding.confirmed = true;
            finding.message.push_str(&format!(" (confirmed: {how})"));
        }
    }
}

/// How a run of the contract `name` of `file` showed `finding`, when one did.
fn shown_on(
    output: &ricaas_solc::CompileOutput,
    file: &str,
    name: &str,
    finding: &Finding,
    deadline: std::time::Instant,
) -> Option<String> {
    let contract = output
        .contracts
        .iter()
        .find(|c| c.deployable && c.name == name && c.file == file)?;
    let abi = serde_json::from_value::<JsonAbi>(contract.abi.clone()).ok()?;
    let code = hex_bytes(&contract.bytecode).ok()?;
    // The file's other contracts, deployed beside it: a constructor that takes the address
    // of a helper (`Bank(address log)`) gets one.
    let companions: Vec<(JsonAbi, Vec<u8>)> = output
        .contracts
        .iter()
        .filter(|c| c.deployable && c.file == contract.file && c.name != contract.name)
        .filter_map(|c| {
            Some((
                serde_json::from_value::<JsonAbi>(c.abi.clone()).ok()?,
                hex_bytes(&c.bytecode).ok()?,
            ))
        })
        .collect();
    let subject = Subject {
        abi: &abi,
        code: &code,
        companions: &companions,
    };
    let functions: Vec<&Function> = abi
        .functions
        .get(&finding.function)
        .into_iter()
        .flatten()
        .collect();
    shown_how(&subject, &functions, finding, deadline)
}

/// How a run of `functions` (the finding's function, overloads included) showed `finding`, in
/// words for its message; `None` when no run did.
fn shown_how(
    subject: &Subject<'_>,
    functions: &[&Function],
    finding: &Finding,
    deadline: std::time::Instant,
) -> Option<String> {
    match finding.rule {
        "reentrancy-eth" => {
            let (deposited, taken, setup) = functions
                .iter()
                .filter_map(|function| attack::drained(subject, function, deadline))
                .max_by_key(|(_, taken, _)| *taken)?;
            let setup = setup
                .map(|name| format!(" called `{name}()` and"))
                .unwrap_or_default();
            Some(format!(
                "an attacker contract that{setup} deposited {} re-entered it and left with {}",
                attack::ether(deposited),
                attack::ether(taken)
            ))
        }
        "tx-origin" => {
            let gain = functions
                .iter()
                .filter_map(|function| phish::phished(subject, function))
                .max()?;
            let paid = match gain {
                0 => String::new(),
                wei if wei < attack::ETHER / 10 => format!(" and paid that account {wei} wei"),
                wei => format!(" and paid that account {}", attack::ether(wei)),
            };
            Some(format!(
                "refused when an unrelated account called it, it went through when the owner called a contract that account wrote, which called it{paid}"
            ))
        }
        "unprotected-withdrawal" => {
            let gain = functions
                .iter()
                .filter_map(|function| payout::taken(subject, function))
                .max()?;
            Some(format!(
                "after another account deposited 10 ether, an unrelated account that deposited 1 ether called it twice and left with {} more than it had",
                attack::ether(gain)
            ))
        }
        "arbitrary-transfer-from" => functions
            .iter()
            .any(|function| approval::spent(subject, function, approval::Spend::TransferFrom))
            .then(|| {
                "called by an unrelated account naming another account, it asked the token to move that account's tokens".to_owned()
            }),
        "arbitrary-call" => functions
            .iter()
            .any(|function| approval::spent(subject, function, approval::Spend::Call))
            .then(|| {
                "called by an unrelated account with a token's address and `transferFrom(another account, the caller, 1)` as the data, it made that call as this contract".to_owned()
            }),
        "short-address" => functions
            .iter()
            .any(|function| short::shown(subject, function))
            .then(|| {
                "called by the account holding the tokens with the recipient's last byte (a zero) left out, it moved what a call with the full address and 256 times the amount moves".to_owned()
            }),
        "arbitrary-storage-write" => {
            let slot = functions
                .iter()
                .find_map(|function| slot::shown(subject, function))?;
            Some(format!(
                "an unrelated account's write through the array changed storage slot {slot}, another variable's"
            ))
        }
        "integer-overflow" => {
            let under = finding.message.contains("can underflow");
            // The expression the message names first (`a*b` can overflow).
            let product = finding
                .message
                .split('`')
                .nth(1)
                .is_some_and(|expression| expression.contains('*'));
            let (wrapped, after) = functions
                .iter()
                .find_map(|function| wrap::shown(subject, function, under, product))?;
            let setup = after
                .map(|name| format!(" after that account called `{name}()`"))
                .unwrap_or_default();
            Some(match wrapped {
                wrap::Wrapped::Under { integer, calls } => format!(
                    "called {} by an unrelated account with {}{setup}, it stored 2^256 minus a small number",
                    if calls == 1 { "once" } else { "twice" },
                    if integer == U256::from(ONE_ETHER) {
                        "10^18 (one ether)".to_owned()
                    } else {
                        integer.to_string()
                    }
                ),
                wrap::Wrapped::Over => format!(
                    "called twice by an unrelated account with the largest integer{setup}, a stored value became smaller"
                ),
                wrap::Wrapped::Product { lists } => format!(
                    "called by an unrelated account with 2^255{}{setup}, it went through and stored a value of at least 2^254, where the same call with 2^255 - 1 was refused: 2^255 times an even number wraps to zero",
                    if lists {
                        " and two entries in each list"
                    } else {
                        ""
                    }
                ),
            })
        }
        rule => {
            if functions
                .iter()
                .any(|function| shown(subject, function, rule, None))
            {
                return Some(
                    match rule {
                        "unprotected-selfdestruct" => {
                            "called by an unrelated account, the contract was destroyed"
                        }
                        "controlled-delegatecall" => {
                            "called by an unrelated account with the address of code that stores its caller, the contract's own storage then held that account's address"
                        }
                        "unprotected-setting" => {
                            "called by an unrelated account, it went through and changed the contract's storage"
                        }
                        _ => "called by an unrelated account, it stored that account's address",
                    }
                    .to_owned(),
                );
            }
            if rule != "unprotected-selfdestruct" {
                return None;
            }
            // Guarded by owners anyone can become: another function first (an initializer),
            // then this one, both by the stranger.
            let first = subject.abi.functions().find(|first| {
                !matches!(
                    first.state_mutability,
                    alloy_json_abi::StateMutability::View | alloy_json_abi::StateMutability::Pure
                ) && first.name != finding.function
                    && functions
                        .iter()
                        .any(|function| shown(subject, function, rule, Some(first)))
            })?;
            Some(format!(
                "an unrelated account called `{}`, then this, and the contract was destroyed",
                first.name
            ))
        }
    }
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, ()> {
    let text = text.trim_start_matches("0x");
    if text.is_empty() {
        return Err(());
    }
    alloy_primitives::hex::decode(text).map_err(|_| ())
}

/// A value of `param`'s type pointing at `who` where it can (addresses), small otherwise.
fn argument(param: &Param, who: Address) -> Option<DynSolValue> {
    let kind: DynSolType = param.selector_type().parse().ok()?;
    value_of(&kind, who)
}

fn value_of(kind: &DynSolType, who: Address) -> Option<DynSolValue> {
    value_with(kind, who, &[])
}

/// [`value_of`], with every byte string `bytes`.
fn value_with(kind: &DynSolType, who: Address, bytes: &[u8]) -> Option<DynSolValue> {
    Some(match kind {
        DynSolType::Address => DynSolValue::Address(who),
        DynSolType::Bool => DynSolValue::Bool(true),
        DynSolType::Uint(bits) => DynSolValue::Uint(U256::from(1), *bits),
        DynSolType::Int(bits) => DynSolValue::Int(alloy_primitives::I256::ONE, *bits),
        DynSolType::FixedBytes(size) => DynSolValue::FixedBytes(Default::default(), *size),
        DynSolType::Bytes => DynSolValue::Bytes(bytes.to_vec()),
        DynSolType::String => DynSolValue::String(String::new()),
        // One element: a list of owners or recipients that names the caller.
        DynSolType::Array(inner) => DynSolValue::Array(vec![value_with(inner, who, bytes)?]),
        DynSolType::FixedArray(inner, size) => DynSolValue::FixedArray(
            (0..*size)
                .map(|_| value_with(inner, who, bytes))
                .collect::<Option<_>>()?,
        ),
        DynSolType::Tuple(inner) => DynSolValue::Tuple(
            inner
                .iter()
                .map(|t| value_with(t, who, bytes))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// `function`'s call data with addresses set to `who` and integers to `integer` (clipped to
/// their width).
fn call_data(function: &Function, who: Address, integer: U256) -> Option<Vec<u8>> {
    let args = function
        .inputs
        .iter()
        .map(|p| {
            let kind: DynSolType = p.selector_type().parse().ok()?;
            Some(match kind {
                DynSolType::Uint(bits) => clipped(integer, bits),
                _ => value_of(&kind, who)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    function.abi_encode_input(&args).ok()
}

/// `integer` as a `uint<bits>`, clipped to the largest such value.
fn clipped(integer: U256, bits: usize) -> DynSolValue {
    let top = if bits == 256 {
        U256::MAX
    } else {
        (U256::from(1) << bits) - U256::from(1)
    };
    DynSolValue::Uint(integer.min(top), bits)
}

fn account(balance: u128) -> AccountInfo {
    AccountInfo {
        balance: U256::from(balance),
        ..Default::default()
    }
}

/// The contract a run is about, and the other contracts of its file.
struct Subject<'a> {
    abi: &'a JsonAbi,
    code: &'a [u8],
    companions: &'a [(JsonAbi, Vec<u8>)],
}

/// An in-memory chain for confirmation runs: funded accounts, committed transactions.
struct Chain {
    db: CacheDB<EmptyDB>,
    /// Transactions run so far: each gets its own block, a day after the last (an attacker
    /// can wait out a lock time).
    blocks: u64,
}

impl Chain {
    fn new(funded: &[Address]) -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        for who in funded {
            db.insert_account_info(*who, account(FUNDS));
        }
        Self { db, blocks: 0 }
    }

    fn evm(
        &mut self,
    ) -> revm::handler::MainnetEvm<revm::handler::MainnetContext<&mut CacheDB<EmptyDB>>> {
        // Cancun: recent compilers emit its opcodes (`mcopy`). A `selfdestruct` there keeps the
        // code (EIP-6780) but still ends the call as one and sends the balance away.
        let mut cfg = CfgEnv::new_with_spec(SpecId::CANCUN);
        cfg.disable_nonce_check = true;
        let blocks = self.blocks;
        Context::mainnet()
            .with_db(&mut self.db)
            .with_cfg(cfg)
            .modify_block_chained(|block| {
                // Recent blocks: lock times and deadlines set in the past have passed.
                block.number = U256::from(20_000_000 + blocks);
                block.timestamp = U256::from(1_700_000_000 + blocks * 86_400);
                block.gas_limit = GAS;
            })
            .build_mainnet()
    }

    fn tx(caller: Address, kind: TxKind, data: Vec<u8>, value: U256) -> TxEnv {
        TxEnv {
            caller,
            kind,
            data: Bytes::from(data),
            value,
            gas_limit: GAS,
            ..Default::default()
        }
    }

    /// Runs a transaction and keeps its effects; `None` when it could not be run at all.
    fn run(
        &mut self,
        caller: Address,
        kind: TxKind,
        data: Vec<u8>,
        value: U256,
    ) -> Option<ExecutionResult> {
        let result = self
            .evm()
            .transact_commit(Self::tx(caller, kind, data, value))
            .ok();
        self.blocks += 1;
        result
    }

    /// Runs a transaction and returns its effects without keeping them.
    fn simulate(
        &mut self,
        caller: Address,
        to: Address,
        data: Vec<u8>,
        value: U256,
    ) -> Option<revm::context::result::ResultAndState> {
        self.evm()
            .transact(Self::tx(caller, TxKind::Call(to), data, value))
            .ok()
    }

    fn balance(&self, who: Address) -> U256 {
        self.db
            .cache
            .accounts
            .get(&who)
            .map(|a| a.info.balance)
            .unwrap_or_default()
    }

    fn storage(&self, who: Address, slot: U256) -> U256 {
        self.db
            .cache
            .accounts
            .get(&who)
            .and_then(|a| a.storage.get(&slot).copied())
            .unwrap_or_default()
    }

    /// Creates `code` as [`DEPLOYER`] with constructor arguments pointing at `addresses` in turn
    /// (then at the deployer), and one ether when the constructor is payable.
    fn create(&mut self, abi: &JsonAbi, code: &[u8], addresses: &[Address]) -> Option<Address> {
        self.create_with(abi, code, addresses, None)
    }

    /// [`Chain::create`], with `integer` (clipped to its width) in every integer argument of the
    /// constructor wider than a byte when given (a `uint8` is a token's decimals: one).
    fn create_with(
        &mut self,
        abi: &JsonAbi,
        code: &[u8],
        addresses: &[Address],
        integer: Option<U256>,
    ) -> Option<Address> {
        let mut creation = code.to_vec();
        let mut value = U256::ZERO;
        if let Some(constructor) = &abi.constructor {
            let mut addresses = addresses.iter().copied();
            let args = constructor
                .inputs
                .iter()
                .map(|p| {
                    let who = match p.selector_type().as_ref() {
                        "address" => addresses.next().unwrap_or(DEPLOYER),
                        _ => DEPLOYER,
                    };
                    match (integer, p.selector_type().parse().ok()?) {
                        (Some(integer), DynSolType::Uint(bits)) if bits > 8 => {
                            Some(clipped(integer, bits))
                        }
                        _ => argument(p, who),
                    }
                })
                .collect::<Option<Vec<_>>>()?;
            creation.extend(constructor.abi_encode_input(&args).ok()?);
            if constructor.state_mutability == alloy_json_abi::StateMutability::Payable {
                value = U256::from(ONE_ETHER);
            }
        }
        let created = self.run(DEPLOYER, TxKind::Create, creation, value)?;
        created.created_address().filter(|_| created.is_success())
    }

    /// Creates the subject's companions, then the subject with their addresses as its
    /// constructor's address arguments.
    fn deploy(&mut self, subject: &Subject<'_>) -> Option<Address> {
        self.deploy_beside(subject).map(|(target, _)| target)
    }

    /// [`Chain::deploy`], with the companions' addresses.
    fn deploy_beside(&mut self, subject: &Subject<'_>) -> Option<(Address, Vec<Address>)> {
        self.deploy_beside_with(subject, None)
    }

    /// [`Chain::deploy`], with `integer` in the subject's integer constructor arguments (an
    /// initial supply).
    fn deploy_with_integers(&mut self, subject: &Subject<'_>, integer: U256) -> Option<Address> {
        self.deploy_beside_with(subject, Some(integer))
            .map(|(target, _)| target)
    }

    /// Creates the companions, then the subject with their addresses (and `integer`, when given,
    /// in its integer constructor arguments).
    fn deploy_beside_with(
        &mut self,
        subject: &Subject<'_>,
        integer: Option<U256>,
    ) -> Option<(Address, Vec<Address>)> {
        let companions: Vec<Address> = subject
            .companions
            .iter()
            .filter_map(|(abi, code)| self.create(abi, code, &[]))
            .collect();
        let target = self.create_with(subject.abi, subject.code, &companions, integer)?;
        Some((target, companions))
    }
}

/// Whether calling `function` as a stranger after creating the contract (and after calling
/// `first` as the stranger, when given) shows `rule`.
fn shown(subject: &Subject<'_>, function: &Function, rule: &str, first: Option<&Function>) -> bool {
    let mut chain = Chain::new(&[DEPLOYER, STRANGER]);
    let Some(contract) = chain.deploy(subject) else {
        return false;
    };
    if let Some(first) = first {
        let prepared = call_data(first, STRANGER, U256::from(1))
            .and_then(|data| chain.run(STRANGER, TxKind::Call(contract), data, U256::ZERO));
        if !prepared.is_some_and(|result| result.is_success()) {
            return false;
        }
    }
    // Addresses point at the stranger, or for a delegatecall at code the stranger chose.
    let who = if rule == "controlled-delegatecall" {
        chain.db.insert_account_info(
            PAYLOAD,
            AccountInfo::default().with_code(revm::bytecode::Bytecode::new_raw(
                PAYLOAD_CODE.to_vec().into(),
            )),
        );
        PAYLOAD
    } else {
        STRANGER
    };
    let Some(args) = function
        .inputs
        .iter()
        .map(|p| argument(p, who))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let Ok(call) = function.abi_encode_input(&args) else {
        return false;
    };
    let value = if function.state_mutability == alloy_json_abi::StateMutability::Payable {
        U256::from(ONE_ETHER)
    } else {
        U256::ZERO
    };
    let Some(run) = chain.simulate(STRANGER, contract, call, value) else {
        return false;
    };
    if !run.result.is_success() {
        return false;
    }
    let Some(after) = run.state.get(&contract) else {
        return false;
    };
    match rule {
        "unprotected-selfdestruct" => {
            after.is_selfdestructed()
                || matches!(
                    run.result,
                    ExecutionResult::Success {
                        reason: SuccessReason::SelfDestruct,
                        ..
                    }
                )
        }
        // The owner's setting changed by a stranger: any slot the call wrote a new value to.
        "unprotected-setting" => after
            .storage
            .values()
            .any(|slot| slot.present_value != slot.original_value),
        _ => {
            // The address may share its slot with smaller variables: look at every byte offset.
            let holds = |word: U256| {
                let mask = (U256::from(1) << 160) - U256::from(1);
                let stranger = U256::from_be_slice(STRANGER.as_slice());
                (0..=12).any(|byte| (word >> (8 * byte)) & mask == stranger)
            };
            after
                .storage
                .values()
                .any(|slot| holds(slot.present_value) && !holds(slot.original_value))
        }
    }
}
