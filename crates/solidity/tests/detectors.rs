//! Each detector on small contracts written for it: a line that must be reported ends with
//! `//~ rule-id`; every other line must not be reported by that rule. Compiled with real solcjs
//! releases from the machine's compiler cache (filled by the test install step).

use ricaas_solc::{CompileRequest, Compiler, CompilerConfig, default_cache_dir};
use ricaas_solidity::{Report, check};
use std::{collections::BTreeSet, time::Duration};

fn report(source: &str) -> Report {
    let compiler = Compiler::new(CompilerConfig::new(default_cache_dir()));
    let request = CompileRequest {
        sources: [("Test.sol".to_owned(), source.to_owned())].into(),
        ..CompileRequest::default()
    };
    let (_, report) = check(&compiler, &request, None, Duration::from_secs(20)).expect("checks");
    report
}

/// The lines `rule` must report (marked `//~ rule`) and the lines it did.
fn expect(rule: &str, source: &str) {
    let marker = format!("//~ {rule}");
    let expected: BTreeSet<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, line)| line.contains(&marker))
        .map(|(i, _)| i + 1)
        .collect();
    let report = report(source);
    let found: BTreeSet<usize> = report
        .findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.line)
        .collect();
    assert_eq!(
        found, expected,
        "{rule}: reported lines (left) differ from the marked ones (right):\n{:#?}",
        report.findings
    );
}

/// `open` is a contract left unclosed with `MARK` on one line: checked closed as it is, `rule`
/// reports nothing; with `added` (a function) before the closing brace, `rule` reports the
/// `MARK`ed line.
fn expect_reported_only_with(rule: &str, open: &str, added: &str) {
    expect(rule, &format!("{}}}\n", open.replace("MARK", "")));
    expect(
        rule,
        &format!(
            "{}{added}\n}}\n",
            open.replace("MARK", &format!("//~ {rule}"))
        ),
    );
}

#[test]
fn unchecked_calls_before_0_5() {
    expect(
        "unchecked-call",
        r#"pragma solidity ^0.4.24;
contract Payer {
    address owner;
    mapping(address => uint) credit;
    function discarded(address a) public {
        a.send(1); //~ unchecked-call
        a.call.value(1)(); //~ unchecked-call
        a.call.gas(2300).value(1)(""); //~ unchecked-call
        a.delegatecall(msg.data); //~ unchecked-call
        (a.call()); //~ unchecked-call
    }
    function neverCalled(address a) public {
        a.call.value(1); //~ unchecked-call
    }
    function keptButUnread(address a) public {
        bool ok = a.send(1); //~ unchecked-call
        credit[a] = 0;
    }
    function checked(address a) public returns (bool) {
        require(a.send(1));
        if (!a.call.value(1)()) revert();
        bool ok = a.send(2);
        if (!ok) throw;
        bool sent;
        sent = a.send(3);
        assert(sent);
        a.transfer(1);
        return a.send(4);
    }
}
"#,
    );
}

#[test]
fn unchecked_calls_from_0_6() {
    expect(
        "unchecked-call",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Payer {
    function discarded(address payable a) external {
        a.call{value: 1}(""); //~ unchecked-call
        (bool ok, ) = a.call{value: 1}(""); //~ unchecked-call
        a.send(1); //~ unchecked-call
    }
    function checked(address payable a) external {
        (bool ok, bytes memory data) = a.call{value: 1}("");
        require(ok, "payment failed");
        (bool sent, ) = a.call("");
        if (!sent) revert("call failed");
        require(data.length == 0);
    }
}
"#,
    );
}

/// An ERC-20 `transfer`, `transferFrom` or `approve` whose success flag is dropped; one that is
/// required, kept and read, or made through `SafeERC20`-style helpers is not reported, nor is
/// ether's `transfer` (it reverts) or a token function that returns nothing.
#[test]
fn token_transfers_whose_result_is_ignored() {
    expect(
        "unchecked-transfer",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
interface IERC20 {
    function transfer(address to, uint256 v) external returns (bool);
    function transferFrom(address from, address to, uint256 v) external returns (bool);
    function approve(address spender, uint256 v) external returns (bool);
}
interface ILegacy { function transfer(address to, uint256 v) external; }
contract Desk {
    IERC20 public token;
    ILegacy public legacy;
    mapping(address => uint256) public deposits;
    function deposit(uint256 v) external {
        token.transferFrom(msg.sender, address(this), v); //~ unchecked-transfer
        deposits[msg.sender] += v;
    }
    function withdraw(uint256 v) external {
        deposits[msg.sender] -= v;
        require(token.transfer(msg.sender, v), "transfer failed");
    }
    function allow(address spender, uint256 v) external {
        bool ok = token.approve(spender, v);
        if (!ok) revert("approve failed");
    }
    function allowBlindly(address spender) external {
        bool ok = token.approve(spender, 1); //~ unchecked-transfer
    }
    function payEther(address payable to) external { to.transfer(1); }
    function payLegacy(address to) external { legacy.transfer(to, 1); }
}
"#,
    );
}

#[test]
fn tx_origin_authorization() {
    expect(
        "tx-origin",
        r#"pragma solidity ^0.4.24;
contract Wallet {
    address owner;
    modifier onlyOwner() {
        require(tx.origin == owner); //~ tx-origin
        _;
    }
    function pay(address to) public onlyOwner {
        to.transfer(1);
    }
    function withdraw() public {
        if (owner != tx.origin) { revert(); } //~ tx-origin
        msg.sender.transfer(this.balance);
    }
    function noContracts() public view returns (bool) {
        // Asking whether the caller is an account is not authorization.
        require(msg.sender == tx.origin);
        return msg.sender == owner;
    }
}
"#,
    );
}

#[test]
fn reports_carry_the_rule_its_swc_ids_and_place() {
    let report = report(
        "pragma solidity ^0.4.24;\ncontract A {\n  function f(address a) public { a.send(1); }\n}\n",
    );
    let finding = &report.findings[0];
    assert_eq!(finding.rule, "unchecked-call");
    assert_eq!(finding.swc, ["SWC-104"]);
    assert_eq!((finding.line, finding.column), (3, 34));
    assert_eq!(
        (finding.contract.as_str(), finding.function.as_str()),
        ("A", "f")
    );
    assert_eq!(report.files, ["Test.sol"]);
    let sarif = ricaas_solidity::sarif::to_sarif(&report);
    assert_eq!(sarif["version"], "2.1.0");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let rule = rules
        .iter()
        .find(|r| r["id"] == "unchecked-call")
        .expect("the rule is described");
    let tags: Vec<&str> = rule["properties"]["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(
        tags.contains(&"SWC-104") && tags.contains(&"DASP-unchecked_low_level_calls"),
        "{tags:?}"
    );
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "unchecked-call");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "Test.sol"
    );
}

#[test]
fn sources_that_do_not_compile_are_refused_with_the_place() {
    let compiler = Compiler::new(CompilerConfig::new(default_cache_dir()));
    let request = CompileRequest {
        sources: [(
            "Bad.sol".to_owned(),
            "pragma solidity ^0.8.0;\ncontract A { function f() public { x = 1; } }\n".to_owned(),
        )]
        .into(),
        ..CompileRequest::default()
    };
    let error = check(&compiler, &request, None, Duration::from_secs(20)).expect_err("refused");
    let message = error.to_string();
    assert!(
        message.contains("do not compile") && message.contains("Bad.sol:2"),
        "{message}"
    );
}

#[test]
fn randomness_from_block_values() {
    expect(
        "weak-randomness",
        r#"pragma solidity ^0.4.24;
contract Lottery {
    uint256 private salt = block.number; //~ weak-randomness
    address[] players;
    mapping(address => uint) guesses;
    function draw() public {
        uint b = block.number; //~ weak-randomness
        // One draw, one finding (on `b`'s line, naming `block.difficulty` too).
        uint winner = uint(keccak256(b, msg.sender, block.difficulty)) % players.length;
        players[winner].transfer(this.balance);
    }
    function pick() internal view returns (uint) {
        return salt % 10;
    }
    function guess(uint n) public {
        bytes32 answer = blockhash(block.number - 1); //~ weak-randomness
        if (uint(answer) == n) msg.sender.transfer(1 ether);
    }
    function notRandom() public view returns (uint) {
        // Block numbers recorded or compared are not randomness.
        require(block.number > 100);
        return uint(keccak256(msg.sender)) % 7;
    }
    function enter() public {
        players.push(msg.sender);
    }
    mapping(address => address) seats;
    function seat() public {
        // The caller picks the draw by picking their address.
        seats[msg.sender] = players[uint(msg.sender) % players.length]; //~ weak-randomness
    }
    function blocksLeft() public view returns (uint) {
        // A public view nothing here calls informs a reader: it decides nothing.
        return 100 - block.number % 100;
    }
    function luckyNumber() internal view returns (uint) {
        // An internal one is there to be called (by derived contracts if not here).
        return block.number % 100; //~ weak-randomness
    }
    mapping(bytes32 => address) pending;
    event Queued(bytes32 id);
    function queue() public {
        // A hash of block values kept as an identifier (a key, an event's argument).
        bytes32 id = keccak256(msg.data, block.number);
        pending[id] = msg.sender;
        emit Queued(id);
    }
    function quickPick() public payable {
        // Numbers the caller could choose themselves, derived from the block instead.
        pickNumbers(uint(keccak256(msg.sender, block.number)));
    }
    function pickNumbers(uint numbers) public payable {
        guesses[msg.sender] = numbers;
    }
    function ticket() public {
        // Passed to an internal function, the same hash is the draw.
        award(uint(keccak256(msg.sender, block.difficulty))); //~ weak-randomness
    }
    function award(uint r) internal {
        if (r % 2 == 0) msg.sender.transfer(1 ether);
    }
    function epochStart() public view returns (uint) {
        // Rounding down to a multiple is alignment, not a draw.
        return block.number - (block.number % 100);
    }
    uint lastHeight;
    function align() public {
        // So is moving a stored height by its own remainder, either way.
        uint height = block.number - 256;
        height += height % 10;
        lastHeight = height;
        lastHeight -= lastHeight % 10;
    }
    function spin() public {
        // A remainder added to something else is the draw again.
        uint base = 7;
        uint slot = base + block.number % 37; //~ weak-randomness
        if (slot % 2 == 0) msg.sender.transfer(1 ether);
    }
    mapping(address => uint) committedAt;
    function commit() public {
        // A height recorded to choose a later block's hash is not itself the draw.
        committedAt[msg.sender] = block.number;
    }
    function reveal() public {
        uint height = committedAt[msg.sender] + 1;
        bytes32 seed = keccak256(blockhash(height), msg.sender); //~ weak-randomness
        if (uint(seed) % 2 == 0) msg.sender.transfer(1 ether);
    }
    function deal() public {
        // A height this call computes is part of the draw (and this one's hash is zero).
        uint b = block.number; //~ weak-randomness
        uint card = uint(keccak256(blockhash(b))) % 52;
        if (card == 0) msg.sender.transfer(1 ether);
    }
}
"#,
    );
}

/// A contract that keeps block hashes for later rounds finds them by height: the remainder that
/// picks the slot (and the bits of the packed word) is a position, as the height in
/// `blockhash(height)` is. The hash read is the draw and is reported where it is read; the same
/// remainder deciding anything else, or indexing an array of players, is a draw again.
/// `uint32(block.timestamp % 2**32)` keeps the low bits of the time in a narrower type (an
/// oracle's last-update stamp); `% 2` of the same time is a coin flip.
#[test]
fn a_timestamp_truncated_to_its_type_is_no_draw() {
    expect(
        "weak-randomness",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Oracle {
    uint32 public lastUpdate;
    uint256 public price;
    address public winner;
    function update(uint256 next) external {
        uint32 stamp = uint32(block.timestamp % 2**32);
        if (stamp != lastUpdate) price = next;
        lastUpdate = stamp;
    }
    function flip() external {
        if (block.timestamp % 2 == 0) winner = msg.sender; //~ weak-randomness
    }
}
"#,
    );
}

#[test]
fn a_height_that_finds_a_kept_block_hash_is_a_position() {
    expect(
        "weak-randomness",
        r#"pragma solidity ^0.4.24;
contract Ring {
    uint constant SIZE = 1024;
    uint[] hashes;
    uint first;
    mapping(address => uint) betAt;
    address[] players;
    function keep(uint height) public {
        uint delta = (height - first) / 10;
        hashes[delta % SIZE] = uint(blockhash(height)); //~ weak-randomness
    }
    function bet() public {
        betAt[msg.sender] = block.number + 3;
    }
    function kept(uint height) internal view returns (uint) {
        uint word = hashes[(height - first) / 10 % SIZE];
        uint slot = (height - first) % 10;
        return (word >> (24 * slot)) & 0xFFFFFF;
    }
    function settle() public {
        if (kept(betAt[msg.sender]) % 2 == 0) msg.sender.transfer(1 ether);
    }
    function pick() public {
        uint b = block.number; //~ weak-randomness
        players[b % players.length].transfer(1 ether);
    }
    function both() public {
        uint b = block.number; //~ weak-randomness
        uint slot = b % 10;
        uint word = hashes[slot];
        if (slot == 3) msg.sender.transfer(word);
    }
}
"#,
    );
}

/// A randomness finding sits on the block value read and names, as a related location, where
/// it becomes the draw — in the message, the JSON report and SARIF's `relatedLocations`.
#[test]
fn a_draw_names_where_the_block_value_becomes_random() {
    let dice = report(
        r#"pragma solidity ^0.4.24;
contract Dice {
    function roll() public payable {
        uint seed = uint(blockhash(block.number - 1));
        uint face = seed
            % 6;
        if (face == 5) msg.sender.transfer(2 ether);
    }
}
"#,
    );
    let draws: Vec<_> = dice
        .findings
        .iter()
        .filter(|f| f.rule == "weak-randomness")
        .collect();
    assert_eq!(draws.len(), 1, "{:#?}", dice.findings);
    let draw = draws[0];
    assert_eq!(draw.line, 4);
    assert_eq!(draw.related.iter().map(|r| r.line).collect::<Vec<_>>(), [5]);
    assert!(draw.message.contains("at line 5"), "{}", draw.message);
    let sarif = ricaas_solidity::sarif::to_sarif(&dice);
    let result = sarif["runs"][0]["results"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["ruleId"] == "weak-randomness"))
        .expect("a SARIF result for the draw");
    assert_eq!(
        result["relatedLocations"][0]["physicalLocation"]["region"]["startLine"],
        5
    );

    // Several block values mixed into one draw: one finding, naming each, with each place.
    let mixed = report(
        r#"pragma solidity ^0.4.24;
contract Lottery {
    address seeder;
    uint last;
    function reseed() public {
        seeder = block.coinbase;
        last = block.number;
    }
    function play() public payable {
        uint r = uint(keccak256(seeder, last,
            block.difficulty));
        if (r % 2 == 0) msg.sender.transfer(2 ether);
    }
}
"#,
    );
    let draws: Vec<_> = mixed
        .findings
        .iter()
        .filter(|f| f.rule == "weak-randomness")
        .collect();
    assert_eq!(draws.len(), 1, "{:#?}", mixed.findings);
    let draw = draws[0];
    assert_eq!(draw.line, 6, "{draw:#?}");
    assert!(
        draw.message
            .starts_with("`block.coinbase`, `block.number` and `block.difficulty` go into"),
        "{}",
        draw.message
    );
    assert_eq!(
        draw.related.iter().map(|r| r.line).collect::<Vec<_>>(),
        [10, 7, 11],
        "{draw:#?}"
    );
}

#[test]
fn timestamps_deciding_outcomes() {
    expect(
        "timestamp",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Sale {
    uint256 public opened = block.timestamp; //~ timestamp
    uint256 last;
    uint256[] history;
    struct Buyer { address who; uint256 when; }
    Buyer lastBuyer;
    event Seen(uint256 when);
    function finished() external view returns (bool) {
        return block.timestamp >= opened + 30 days; //~ timestamp
    }
    function buy() external payable {
        require(block.timestamp != last); //~ timestamp
        uint256 t = block.timestamp; //~ timestamp
        last = t;
        emit Seen(block.timestamp);
        // Kept as a record, read by no condition: decides nothing.
        history.push(block.timestamp);
        lastBuyer = Buyer(msg.sender, block.timestamp);
    }
}
"#,
    );
}

/// A struct built by its constructor keeps each argument in its own member: comparing the
/// `owner` written beside the creation time with the caller is no timestamp decision.
#[test]
fn members_of_a_struct_built_by_its_constructor_keep_their_own_values() {
    expect(
        "timestamp",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Assets {
    struct Asset { address owner; bytes32 meta; uint64 created; }
    mapping(bytes32 => Asset) assets;
    uint256 opens;
    function register(bytes32 id, bytes32 meta) external {
        require(assets[id].owner == address(0), "taken");
        assets[id] = Asset(msg.sender, meta, uint64(block.timestamp));
    }
    function registerNamed(bytes32 id) external {
        assets[id] = Asset({created: uint64(block.timestamp), owner: msg.sender, meta: 0});
    }
    function transfer(bytes32 id, address to) external {
        require(msg.sender == assets[id].owner, "not yours");
        assets[id].owner = to;
    }
    function buy() external payable {
        require(block.timestamp >= opens, "not open"); //~ timestamp
    }
}
"#,
    );
}

/// A time recorded and later compared with zero (`at == 0`: nothing recorded yet) decides
/// nothing the producer can move; the same record compared with a later time does.
#[test]
fn a_recorded_time_compared_with_zero_is_an_existence_check() {
    expect(
        "timestamp",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Notary {
    struct Record { bytes32 digest; uint64 at; }
    mapping(bytes32 => Record) public records;
    mapping(bytes32 => uint256) public revoked;
    function notarize(bytes32 id, bytes32 digest) external {
        require(records[id].at == 0, "exists");
        records[id] = Record(digest, uint64(block.timestamp)); //~ timestamp
    }
    function revoke(bytes32 id) external {
        require(records[id].at != 0 && revoked[id] == 0);
        if (!(0 < revoked[id])) revoked[id] = block.timestamp;
    }
    function settled(bytes32 id) external view returns (bool) {
        return records[id].at > 0 && records[id].at + 1 days <= block.timestamp; //~ timestamp
    }
}
"#,
    );
}

/// A block hash compared with one the caller vouches for, itself checked non-zero (Lido's
/// deposit guard: guardians signed for that block), identifies a block; compared with a hash
/// never checked against zero, the zero answer for old blocks passes it.
#[test]
fn a_block_hash_checked_against_a_nonzero_expected_hash_identifies_a_block() {
    expect(
        "weak-randomness",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Deposits {
    error UnexpectedBlockHash();
    uint public deposited;
    function deposit(uint blockNumber, bytes32 blockHash) external {
        if (blockHash == bytes32(0) || blockhash(blockNumber) != blockHash) revert UnexpectedBlockHash();
        deposited += 1;
    }
    function depositChecked(uint blockNumber, bytes32 blockHash) external {
        require(blockHash != 0);
        require(blockhash(blockNumber) == blockHash);
        deposited += 1;
    }
    function depositUnguarded(uint blockNumber, bytes32 blockHash) external {
        require(blockhash(blockNumber) == blockHash); //~ weak-randomness
        deposited += 1;
    }
}
"#,
    );
}

/// A `delegatecall` followed by a revert whatever it returned (ERC-4337's `delegateAndRevert`, a
/// simulation) leaves nothing the called code wrote; one a branch may leave before the revert
/// does.
#[test]
fn a_delegatecall_always_reverted_after_runs_code_for_its_answer_only() {
    expect(
        "controlled-delegatecall",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Simulator {
    error Result(bool success, bytes ret);
    function simulate(address target, bytes calldata data) external {
        (bool ok, bytes memory ret) = target.delegatecall(data);
        revert Result(ok, ret);
    }
    function simulateMeasured(address target, bytes calldata data) external {
        uint before = gasleft();
        (bool ok, bytes memory ret) = target.delegatecall(data);
        uint used = before - gasleft();
        revert(string(abi.encode(ok, ret.length, used)));
    }
    function maybe(address target, bytes calldata data, bool keep) external {
        (bool ok, ) = target.delegatecall(data); //~ controlled-delegatecall
        if (keep) return;
        revert("undone");
    }
    function kept(address target, bytes calldata data) external returns (bool ok) {
        (ok, ) = target.delegatecall(data); //~ controlled-delegatecall
    }
}
"#,
    );
}

/// `offset + i` in a loop over `i < limit`, after `offset.add(limit)` (SafeMath, which reverts
/// on a wrap) was computed, stays below that sum; with no such sum, or with the bound changed in
/// the loop, it may wrap.
#[test]
fn a_loop_index_added_to_a_start_whose_sum_with_the_bound_was_checked() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.4.24;
library SafeMath {
    function add(uint a, uint b) internal pure returns (uint c) {
        c = a + b;
        require(c >= a);
    }
}
contract Registry {
    using SafeMath for uint;
    uint[] public keys;
    uint public total;
    function page(uint offset, uint limit) external view returns (uint[] memory out) {
        require(offset.add(limit) <= keys.length);
        out = new uint[](limit);
        for (uint i = 0; i < limit; ++i) {
            out[i] = keys[offset + i];
        }
    }
    function unbounded(uint offset, uint limit) public {
        for (uint i = 0; i < limit; ++i) {
            total = offset + i; //~ integer-overflow
        }
    }
    function moved(uint offset, uint limit) public {
        require(offset.add(limit) <= keys.length);
        for (uint i = 0; i < limit; ++i) {
            total = offset + i; //~ integer-overflow
            limit = keys.length;
        }
    }
}
"#,
    );
}

/// The clock handed to SafeMath (a swap's deadline `now.add(1800)`, the time passed
/// `now.sub(start)`) meets only its checks that the arithmetic did not wrap, which no
/// timestamp trips; a helper that compares the time it is given with a deadline, and a check
/// that reads the clock itself, still decide on it.
#[test]
fn the_clock_through_safemath_wrap_checks_decides_nothing() {
    expect(
        "timestamp",
        r#"pragma solidity ^0.6.12;
library SafeMath {
    function add(uint a, uint b) internal pure returns (uint) {
        uint c = a + b;
        require(c >= a, "add");
        return c;
    }
    function sub(uint a, uint b) internal pure returns (uint) {
        require(b <= a, "sub");
        return a - b;
    }
    function mul(uint a, uint b) internal pure returns (uint) {
        if (a == 0) return 0;
        uint c = a * b;
        require(c / a == b, "mul");
        return c;
    }
}
library DSMath {
    function add(uint x, uint y) internal pure returns (uint z) {
        require((z = x + y) >= x, "ds-math-add-overflow");
    }
}
interface Router {
    function swap(uint amountIn, uint minOut, address to, uint deadline) external;
}
contract Strategy {
    using SafeMath for uint;
    Router public router;
    uint public start;
    uint public end;
    uint public elapsed;
    mapping(address => uint) public unlockAt;
    function harvest(uint amount) external {
        router.swap(amount, 0, address(this), now.add(1800));
        router.swap(amount, 0, address(this), DSMath.add(now, 600));
        elapsed = now.sub(start).mul(2);
    }
    function open(uint t) internal view returns (bool) {
        return t < end;
    }
    function notBefore(uint t, uint s) internal pure {
        require(t >= s, "early");
    }
    function buy() external {
        require(open(now)); //~ timestamp
        notBefore(now, start); //~ timestamp
        require(end >= now, "over"); //~ timestamp
        unlockAt[msg.sender] = end - now;
    }
}
"#,
    );
}

/// Taking tokens from an account the caller names spends every approval given to the contract;
/// from the caller, the contract, a stored seller, or an account that signed or permitted it,
/// it does not.
#[test]
fn tokens_taken_from_an_account_the_caller_names() {
    expect(
        "arbitrary-transfer-from",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
interface IERC20 {
    function transferFrom(address from, address to, uint256 v) external returns (bool);
    function permit(address owner, address spender, uint256 v, uint256 deadline, uint8 sv, bytes32 r, bytes32 s) external;
}
interface INft { function safeTransferFrom(address from, address to, uint256 id) external; }
library SafeLib {
    function safeTransferFrom(IERC20 token, address from, address to, uint256 v) internal {
        if (!_transferFrom(token, from, to, v)) revert("transfer failed");
    }
    function _transferFrom(IERC20 token, address from, address to, uint256 v) private returns (bool) {
        return token.transferFrom(from, to, v);
    }
}
library Signatures {
    function verify(bytes memory signature, bytes32 hash, address signer) internal pure {
        (bytes32 r, bytes32 s, uint8 v) = abi.decode(signature, (bytes32, bytes32, uint8));
        if (ecrecover(hash, v, r, s) != signer) revert("bad signature");
    }
}
contract Router {
    using SafeLib for IERC20;
    using Signatures for bytes;
    struct Listing { address seller; uint256 price; }
    address owner = msg.sender;
    IERC20 token;
    INft nft;
    mapping(uint256 => Listing) listings;
    mapping(address => uint256) credit;
    modifier onlyOwner() { require(msg.sender == owner, "owner"); _; }
    function _msgSender() internal view returns (address) { return msg.sender; }
    function pull(address from, uint256 v) external {
        require(token.transferFrom(from, address(this), v), "failed"); //~ arbitrary-transfer-from
    }
    function pullNonZero(address from, address to, uint256 v) external {
        require(from != address(0), "zero");
        token.safeTransferFrom(from, to, v); //~ arbitrary-transfer-from
    }
    function pullThroughLibrary(IERC20 t, address from, uint256 v) external {
        SafeLib.safeTransferFrom(t, from, msg.sender, v); //~ arbitrary-transfer-from
    }
    function pullFor(address from, uint256 v) external { _take(from, v); }
    function deposit(uint256 v) external { _take(msg.sender, v); credit[msg.sender] += v; }
    function _take(address from, uint256 v) internal {
        token.safeTransferFrom(from, address(this), v); //~ arbitrary-transfer-from
    }
    function pullSigned(address from, uint256 v, bytes calldata sig) external {
        sig.verify(keccak256(abi.encode(from, v)), from);
        _takeFor(from, v);
    }
    function depositFor(uint256 v) external { _takeFor(msg.sender, v); }
    function _takeFor(address from, uint256 v) internal {
        token.safeTransferFrom(from, address(this), v);
    }
    function depositOwn(uint256 v) external {
        token.safeTransferFrom(_msgSender(), address(this), v);
        require(token.transferFrom(msg.sender, address(this), v));
    }
    function ownerPull(address from, uint256 v) external onlyOwner {
        token.safeTransferFrom(from, owner, v);
    }
    function signedPull(address from, uint256 v, uint8 sv, bytes32 r, bytes32 s) external {
        bytes32 h = keccak256(abi.encode(address(this), from, v));
        require(ecrecover(h, sv, r, s) == from, "not signed");
        token.safeTransferFrom(from, msg.sender, v);
    }
    function signedByLibrary(address from, uint256 v, bytes calldata sig) external {
        sig.verify(keccak256(abi.encode(from, v)), from);
        token.safeTransferFrom(from, address(this), v);
    }
    function depositWithPermit(address from, uint256 v, uint256 deadline, uint8 sv, bytes32 r, bytes32 s) external {
        token.permit(from, address(this), v, deadline, sv, r, s);
        token.safeTransferFrom(from, address(this), v);
        credit[from] += v;
    }
    mapping(address => bool) delegated;
    function isDelegated(address a) internal view returns (bool) { return delegated[a]; }
    function pullDelegated(address from, uint256 v) external {
        require(isDelegated(from), "not delegated");
        token.safeTransferFrom(from, address(this), v);
    }
    function buy(uint256 id) external {
        Listing memory l = listings[id];
        token.safeTransferFrom(msg.sender, l.seller, l.price);
        nft.safeTransferFrom(l.seller, msg.sender, id);
    }
}
"#,
    );
}

/// A call whose target and data the caller chooses, from a contract users approve or that holds
/// tokens, is theirs to point at a token; a contract with nothing to lose, an owner's call and a
/// call whose selector the contract fixes are not reported.
#[test]
fn calls_the_caller_points_at_anything() {
    let router = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
interface IERC20 {
    function transferFrom(address from, address to, uint256 v) external returns (bool);
    function transfer(address to, uint256 v) external returns (bool);
}
contract Router {
    struct Call { address target; bytes data; }
    address owner = msg.sender;
    IERC20 token;
    function deposit(uint256 v) external { require(token.transferFrom(msg.sender, address(this), v)); }
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory out) = target.call(data); //~ arbitrary-call
        require(ok, "call failed");
        return out;
    }
    function batch(Call[] calldata calls) external {
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, ) = calls[i].target.call(calls[i].data); //~ arbitrary-call
            require(ok);
        }
    }
    function bySignature(address target, string calldata signature, uint256 v) external {
        (bool ok, ) = target.call(abi.encodeWithSignature(signature, v)); //~ arbitrary-call
        require(ok);
    }
    function pay(address t, address to, uint256 v) external {
        (bool ok, bytes memory r) = t.call(abi.encodeWithSelector(0xa9059cbb, to, v));
        require(ok && (r.length == 0 || abi.decode(r, (bool))));
    }
    function ownerExecute(address target, bytes calldata data) external {
        require(msg.sender == owner);
        (bool ok, ) = target.call(data);
        require(ok);
    }
}
"#;
    expect("arbitrary-call", router);
    // Holding tokens is enough: the caller takes them with `transfer`.
    let holder = router.replace(
        "require(token.transferFrom(msg.sender, address(this), v));",
        "require(msg.sender == owner); require(token.transfer(owner, v));",
    );
    expect("arbitrary-call", &holder);
    // A multicall that neither holds nor pulls tokens has nothing to lose.
    let multicall = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Multicall {
    struct Call { address target; bytes data; }
    function aggregate(Call[] calldata calls) external returns (bytes[] memory results) {
        results = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory out) = calls[i].target.call(calls[i].data);
            require(ok, "call failed");
            results[i] = out;
        }
    }
}
"#;
    expect("arbitrary-call", multicall);
}

/// A base contract's entry that leaves checking its caller to a virtual hook (UUPS's
/// `upgradeToAndCall` → `_authorizeUpgrade`): the override that runs in the deployed contract
/// decides. One that checks nothing is reported where it is written; overrides that check the
/// caller, or always revert, leave the base's `delegatecall` unreported.
#[test]
fn an_override_that_checks_nothing_opens_the_entry_its_base_guards_with_it() {
    let base = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
abstract contract Upgradeable {
    address public implementation;
    function upgradeToAndCall(address next, bytes calldata data) external {
        _authorizeUpgrade(next);
        implementation = next;
        (bool ok, ) = next.delegatecall(data); //~ controlled-delegatecall
        require(ok);
    }
    function _authorizeUpgrade(address next) internal virtual;
}
abstract contract Owned {
    address public owner = msg.sender;
    modifier onlyOwner() { require(msg.sender == owner, "not the owner"); _; }
}
contract Guarded is Upgradeable, Owned {
    function _authorizeUpgrade(address) internal override onlyOwner {}
}
contract Checked is Upgradeable, Owned {
    function _authorizeUpgrade(address) internal view override { require(msg.sender == owner); }
}
contract Frozen is Upgradeable {
    function _authorizeUpgrade(address) internal pure override { revert("frozen"); }
}
abstract contract Loose is Upgradeable {
    function _authorizeUpgrade(address) internal virtual override {}
}
contract Tightened is Loose, Owned {
    function _authorizeUpgrade(address next) internal override onlyOwner { super._authorizeUpgrade(next); }
}
"#;
    expect(
        "controlled-delegatecall",
        &base.replace(" //~ controlled-delegatecall", "").replace(
            "abstract contract Loose is Upgradeable {\n    function _authorizeUpgrade(address) internal virtual override {}\n}\ncontract Tightened is Loose, Owned {\n    function _authorizeUpgrade(address next) internal override onlyOwner { super._authorizeUpgrade(next); }\n}\n",
            "",
        ),
    );
    let open = format!(
        "{base}contract Open is Upgradeable {{\n    function _authorizeUpgrade(address) internal override {{}} //~ controlled-delegatecall\n}}\ncontract Later is Loose {{}}\n"
    );
    let report = report(&open);
    let lines: BTreeSet<(usize, &str)> = report
        .findings
        .iter()
        .filter(|f| f.rule == "controlled-delegatecall")
        .map(|f| (f.line, f.contract.as_str()))
        .collect();
    // The base's `delegatecall` (open in `Open`), `Open`'s hook, and `Loose`'s empty hook,
    // which runs in `Later` (it is `Tightened`'s base too, where it is not what runs).
    assert_eq!(
        lines,
        BTreeSet::from([(8, "Upgradeable"), (27, "Loose"), (33, "Open")]),
        "{:#?}",
        report.findings
    );
    let hook = report
        .findings
        .iter()
        .find(|f| f.line == 33)
        .expect("the open hook is reported");
    assert!(
        hook.message.contains("`upgradeToAndCall` (from `Upgradeable`) leaves checking its caller to `_authorizeUpgrade`")
            && hook.message.contains("anyone can call `upgradeToAndCall` on `Open`"),
        "{}",
        hook.message
    );
}

/// The same with authority: a base's setter that asks a hook, overridden with nothing, lets
/// anyone take the role the base's other functions check.
#[test]
fn an_override_that_checks_nothing_lets_anyone_write_authority() {
    expect(
        "unprotected-authority-change",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
abstract contract Administered {
    address public admin = msg.sender;
    function setAdmin(address next) external { //~ unprotected-authority-change
        _authorizeAdminChange();
        admin = next;
    }
    function sweep() external {
        require(msg.sender == admin);
        payable(admin).transfer(address(this).balance);
    }
    function _authorizeAdminChange() internal virtual;
}
contract Strict is Administered {
    function _authorizeAdminChange() internal view override { require(msg.sender == admin); }
}
contract Lax is Administered {
    function _authorizeAdminChange() internal override {} //~ unprotected-authority-change
}
"#,
    );
}

/// Calls that cannot re-enter: from 0.5 a call of another contract's `view` function is a
/// `STATICCALL` (it reverts on any state change), and a contract the function has just created
/// (`new`, or `create2` of `type(C).creationCode`) runs the program's own code. Before 0.5 a
/// `constant` call is an ordinary call and still counts.
#[test]
fn calls_that_cannot_re_enter() {
    expect(
        "reentrancy-no-eth",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
interface Authority { function canCall(address who) external view returns (bool); }
interface Hook { function notify(address who) external; }
contract Pair {
    address public token;
    function initialize(address t) external { token = t; }
}
contract Guarded {
    Authority public authority;
    Hook public hook;
    address public owner;
    mapping(address => mapping(address => address)) public pairs;
    function setAuthority(Authority next) external {
        require(msg.sender == owner || authority.canCall(msg.sender));
        authority = next;
    }
    function createPair(address a, address b) external returns (address pair) {
        require(pairs[a][b] == address(0));
        Pair created = new Pair();
        created.initialize(a);
        pairs[a][b] = address(created);
        bytes memory code = type(Pair).creationCode;
        bytes32 salt = keccak256(abi.encodePacked(a, b));
        assembly { pair := create2(0, add(code, 32), mload(code), salt) }
        Pair(pair).initialize(b);
        pairs[b][a] = pair;
    }
    function setHook(Hook next) external {
        require(msg.sender == owner || address(hook) == address(0));
        hook.notify(msg.sender); //~ reentrancy-no-eth
        hook = next;
    }
}
"#,
    );
    expect(
        "reentrancy-no-eth",
        r#"pragma solidity ^0.4.24;
contract Authority { function canCall(address who) public constant returns (bool); }
contract Guarded {
    Authority public authority;
    address public owner;
    function setAuthority(Authority next) public {
        require(msg.sender == owner || authority.canCall(msg.sender)); //~ reentrancy-no-eth
        authority = next;
    }
}
"#,
    );
}

#[test]
fn reentrancy_before_0_5() {
    expect(
        "reentrancy-eth",
        r#"pragma solidity ^0.4.24;
contract Bank {
    struct Account { uint balance; uint since; }
    mapping(address => uint) balances;
    mapping(address => Account) accounts;
    bool locked;
    modifier noReentry() {
        require(!locked);
        locked = true;
        _;
        locked = false;
    }
    function withdraw(uint amount) public {
        if (balances[msg.sender] >= amount) {
            if (msg.sender.call.value(amount)()) { //~ reentrancy-eth
                balances[msg.sender] -= amount;
            }
        }
    }
    function collect(uint amount) public {
        var account = accounts[msg.sender];
        if (account.balance >= amount) {
            require(msg.sender.call.value(amount)()); //~ reentrancy-eth
            account.balance -= amount;
        }
    }
    function payOut(address to) internal {
        require(to.call.value(balances[to])());
    }
    function withdrawAll() public {
        require(balances[msg.sender] > 0);
        payOut(msg.sender); //~ reentrancy-eth
        balances[msg.sender] = 0;
    }
    function effectsFirst() public {
        uint amount = balances[msg.sender];
        balances[msg.sender] = 0;
        require(msg.sender.call.value(amount)());
    }
    function guarded(uint amount) public noReentry {
        require(balances[msg.sender] >= amount);
        // The lock keeps the callee out of `guarded`, not out of `transfers` (cross-function).
        require(msg.sender.call.value(amount)()); //~ reentrancy-eth
        balances[msg.sender] -= amount;
    }
    function transfers(uint amount) public {
        require(balances[msg.sender] >= amount);
        msg.sender.transfer(amount);
        balances[msg.sender] -= amount;
    }
}
"#,
    );
}

#[test]
fn reentrancy_from_0_8_through_calls_and_modifiers() {
    let source = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
interface IToken { function transfer(address to, uint256 amount) external returns (bool); }
interface IBank { function supportsToken() external returns (bytes32); }
contract Vault {
    mapping(address => uint256) public shares;
    mapping(address => bool) public claimed;
    IToken token;
    uint256 private status = 1;
    modifier nonReentrant() {
        require(status != 2, "reentrant call");
        status = 2;
        _;
        status = 1;
    }
    modifier supportsToken() {
        require(IBank(msg.sender).supportsToken() == keccak256("token"));
        _;
    }
    modifier notClaimed() {
        require(!claimed[msg.sender]);
        _;
    }
    function withdraw() external {
        uint256 amount = shares[msg.sender];
        (bool ok, ) = msg.sender.call{value: amount}(""); //~ reentrancy-eth
        require(ok);
        shares[msg.sender] = 0;
    }
    function claim() external {
        require(!claimed[msg.sender]);
        require(token.transfer(msg.sender, 10)); //~ reentrancy-no-eth
        claimed[msg.sender] = true;
    }
    function airDrop() external notClaimed supportsToken { //~ reentrancy-no-eth
        claimed[msg.sender] = true;
    }
    function checkedAfterTheCall() external supportsToken {
        // A re-entered call sets `claimed` before this check runs again: it fails, no harm.
        require(!claimed[msg.sender]);
        claimed[msg.sender] = true;
    }
    function safeWithdraw() external nonReentrant {
        uint256 amount = shares[msg.sender];
        // Locked itself, but `withdraw` (unlocked) reads `shares` too: cross-function.
        (bool ok, ) = msg.sender.call{value: amount}(""); //~ reentrancy-eth
        require(ok);
        shares[msg.sender] = 0;
    }
    function claimFirst() external {
        require(!claimed[msg.sender]);
        claimed[msg.sender] = true;
        require(token.transfer(msg.sender, 10));
    }
}
"#;
    expect("reentrancy-eth", source);
    expect("reentrancy-no-eth", source);
}

#[test]
fn overflow_before_0_8() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.4.24;
library SafeMath {
    function add(uint a, uint b) internal pure returns (uint) {
        uint c = a + b;
        assert(c >= a);
        return c;
    }
    function mul(uint a, uint b) internal pure returns (uint) {
        if (a == 0) return 0;
        uint c = a * b;
        require(c / a == b);
        return c;
    }
}
contract Token {
    using SafeMath for uint;
    mapping(address => uint) balances;
    mapping(address => uint) lockTime;
    uint constant PRICE = 1 ether;
    uint count = 1;
    function transfer(address to, uint value) public {
        require(balances[msg.sender] - value >= 0); //~ integer-overflow
        balances[msg.sender] -= value; //~ integer-overflow
        balances[to] += value; //~ integer-overflow
    }
    function buy(uint tokens) public payable {
        require(msg.value == tokens * PRICE); //~ integer-overflow
        balances[msg.sender] = balances[msg.sender].add(tokens);
    }
    function checkedTransfer(address to, uint value) public {
        require(balances[msg.sender] >= value);
        require(balances[to] + value >= balances[to]);
        balances[msg.sender] -= value;
        balances[to] += value;
    }
    function deposit() public payable {
        // All the ether there is cannot overflow a uint256.
        balances[msg.sender] += msg.value;
    }
    function bump() public {
        count += 1;
        lockTime[msg.sender] = lockTime[msg.sender].add(7 days);
    }
    // Checked, then subtracted from a local copy of what was checked (either way round).
    function withdraw(uint amount) public {
        require(amount <= balances[msg.sender]);
        uint previous = balances[msg.sender];
        balances[msg.sender] = previous - amount;
        msg.sender.transfer(amount);
    }
    function spend(uint amount) public {
        uint held = balances[msg.sender];
        require(held >= amount);
        balances[msg.sender] -= amount;
    }
    // A copy of something else than what was checked is not checked.
    function spendOther(address from, uint amount) public {
        require(amount <= balances[msg.sender]);
        uint theirs = balances[from];
        balances[from] = theirs - amount; //~ integer-overflow
    }
}
"#,
    );
}

/// Solidity 0.8's `unchecked` blocks as a token written the way OpenZeppelin writes one: a debit
/// from a checked copy of the balance (`b[from] = fromBalance - v`), the credit that moves the
/// same amount, a mint whose total grew by the amount with checked arithmetic first, a burn that
/// shrinks the total by a checked debit. The same blocks without those reasons are reported.
/// The checks audited code writes that read the result: ds-math's `require((z = x + y) >= x)`,
/// `require((z = x - y) <= x)` and `require(y == 0 || (z = x * y) / y == x)`; a difference in a
/// conditional that compares the same operands first (parenthesized or not); and, with 0.8, an
/// unchecked credit or total beside a subtraction 0.8 itself checked (solmate's ERC-20).
#[test]
fn overflow_checked_by_the_result_or_by_solc() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.5.16;
library DsMath {
    function add(uint x, uint y) internal pure returns (uint z) { require((z = x + y) >= x, "add"); }
    function sub(uint x, uint y) internal pure returns (uint z) { require((z = x - y) <= x, "sub"); }
    function mul(uint x, uint y) internal pure returns (uint z) { require(y == 0 || (z = x * y) / y == x, "mul"); }
    function lax(uint x, uint y) internal pure returns (uint z) { require((z = x * y) >= x, "lax"); } //~ integer-overflow
}
contract Pool {
    using DsMath for uint;
    uint public reserve;
    mapping(address => uint) public shares;
    function deposit(uint amount, uint bonus, uint taken) external {
        shares[msg.sender] = shares[msg.sender].add(amount).mul(bonus).sub(taken);
        shares[msg.sender] = DsMath.lax(amount, bonus);
        uint paid = amount > (reserve - taken) ? amount - (reserve - taken) : 0; //~ integer-overflow
        shares[msg.sender] = paid;
    }
}
"#,
    );
    expect(
        "integer-overflow",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Token {
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    function transfer(address to, uint256 amount) external returns (bool) {
        balanceOf[msg.sender] -= amount;
        unchecked { balanceOf[to] += amount; }
        return true;
    }
    function burn(uint256 amount) external {
        balanceOf[msg.sender] -= amount;
        unchecked { totalSupply -= amount; }
    }
    function gift(address to, uint256 amount) external {
        unchecked { balanceOf[to] += amount; } //~ integer-overflow
    }
}
"#,
    );
}

/// `unchecked` blocks audited libraries write (OpenZeppelin 5's `EnumerableSet.values`,
/// `Math.mulDiv`, ERC-7579 decoding, temporary approvals): a value clamped by `min` to another
/// is below it, an index below a range's length added to the range's start stays below its end,
/// a product in a function that also takes `mulmod` is the low half of a full-width product on
/// purpose, `b` checked against `a - k` is below `a`, and a factor that is 0 or 1 (a `bool` made
/// a number in assembly, as `SafeCast.toUint` does) cannot grow the other. The same operations
/// without those bounds are reported.
#[test]
fn overflow_in_unchecked_blocks_bounded_by_clamps_ranges_and_full_width_products() {
    expect(
        "integer-overflow",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
library Lib {
    function min(uint256 a, uint256 b) internal pure returns (uint256) { return a < b ? a : b; }
}
contract Ranges {
    uint256[] public items;
    mapping(address => uint256) public allowance;
    function slice(uint256 start, uint256 end) external view returns (uint256[] memory out) {
        unchecked {
            end = Lib.min(end, items.length);
            start = Lib.min(start, end);
            uint256 len = end - start;
            out = new uint256[](len);
            for (uint256 i = 0; i < len; ++i) out[i] = items[start + i];
        }
    }
    function sliceLoose(uint256 start, uint256 end) external view returns (uint256[] memory out) {
        unchecked {
            uint256 len = end - start; //~ integer-overflow
            out = new uint256[](len);
            for (uint256 i = 0; i < len; ++i) out[i] = items[start + i];
        }
    }
    function spend(uint256 value) external {
        uint256 current = allowance[msg.sender];
        uint256 covered = Lib.min(current, value);
        unchecked {
            allowance[msg.sender] = current - covered;
            value -= covered;
            allowance[msg.sender] = current - value; //~ integer-overflow
        }
    }
    function mulDiv(uint256 x, uint256 y, uint256 d) external pure returns (uint256 low, uint256 rest) {
        unchecked {
            low = x * y;
            rest = mulmod(x, y, d);
        }
    }
    function product(uint256 x, uint256 y) external pure returns (uint256) {
        unchecked { return x * y; } //~ integer-overflow
    }
    function toUint(bool b) internal pure returns (uint256 u) {
        assembly { u := iszero(iszero(b)) }
    }
    function toWord(bool b) internal pure returns (uint256 u) {
        assembly { u := add(b, 7) }
    }
    function select(bool c, uint256 a, uint256 b) external pure returns (uint256) {
        unchecked { return b ^ ((a ^ b) * toUint(c)); }
    }
    function scale(bool c, uint256 a) external pure returns (uint256) {
        unchecked { return a * toWord(c); } //~ integer-overflow
    }
    function decode(bytes calldata data, uint256 offset) external pure returns (uint256) {
        uint256 length = data.length;
        if (length < 32) revert();
        if (offset > length - 32) revert();
        unchecked { return length - offset; }
    }
}
"#,
    );
}

#[test]
fn overflow_in_unchecked_blocks_where_a_checked_total_bounds_it() {
    expect(
        "integer-overflow",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Token {
    mapping(address => uint256) balances;
    uint256 totalSupply;
    function transfer(address to, uint256 amount) external {
        uint256 fromBalance = balances[msg.sender];
        require(fromBalance >= amount);
        unchecked {
            balances[msg.sender] = fromBalance - amount;
            balances[to] += amount;
        }
    }
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        unchecked { balances[to] += amount; }
    }
    function burn(uint256 amount) external {
        uint256 held = balances[msg.sender];
        if (held < amount) revert();
        unchecked {
            balances[msg.sender] = held - amount;
            totalSupply -= amount;
        }
    }
    // Nothing checked: both wrap.
    function gift(address to, uint256 amount) external {
        unchecked {
            balances[to] += amount; //~ integer-overflow
            totalSupply -= amount; //~ integer-overflow
        }
    }
    // Checked against something else than what is debited.
    function move(address from, address to, uint256 amount) external {
        uint256 fromBalance = balances[from];
        require(balances[msg.sender] >= amount);
        unchecked {
            balances[from] = fromBalance - amount; //~ integer-overflow
        }
        balances[to] += amount;
    }
}
"#,
    );
}

/// What the caller cannot push past 2^256 is not reported: a struct member written only with
/// ether, a balance picked by the caller's key, amounts moved between balances after a check,
/// tokens just received, an owner's settings, values checked against a fixed limit, `a - a % n`.
/// The same shapes without those reasons are.
#[test]
fn overflow_only_where_the_caller_can_reach_it() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.4.24;
interface Token {
    function transferFrom(address from, address to, uint amount) external returns (bool);
}
contract Bank {
    struct Account { uint balance; uint unlockTime; }
    mapping(address => Account) accounts;
    mapping(address => uint) credit;
    uint totalSupply;
    uint fee;
    uint constant MAX_BATCH = 100;
    address owner;
    Token token;
    modifier onlyOwner() { require(msg.sender == owner); _; }
    function put(uint lockFor) public payable {
        Account storage acc = accounts[msg.sender];
        acc.balance += msg.value;
        acc.unlockTime += lockFor; //~ integer-overflow
    }
    function donate(address to) public payable {
        credit[to] += msg.value;
    }
    function transfer(address to, uint value) public {
        require(credit[msg.sender] >= value);
        credit[msg.sender] -= value;
        credit[to] += value;
    }
    function burn(uint value) public {
        require(credit[msg.sender] >= value);
        credit[msg.sender] -= value;
        totalSupply -= value;
    }
    function depositTokens(uint amount) public {
        require(token.transferFrom(msg.sender, this, amount));
        credit[msg.sender] += amount;
    }
    function mint(address to, uint amount) public {
        credit[to] += amount; //~ integer-overflow
        totalSupply += amount; //~ integer-overflow
    }
    function setFee(uint newFee, uint scale) public onlyOwner {
        fee = newFee * scale;
    }
    function batch(uint n) public {
        require(n <= MAX_BATCH);
        totalSupply += n;
    }
    function batchOwnLimit(uint n) public {
        require(n <= credit[msg.sender]);
        totalSupply += n; //~ integer-overflow
    }
    function buy(uint price, uint charge) public payable {
        require(msg.value >= price + charge); //~ integer-overflow
        msg.sender.transfer(msg.value - charge);
        uint whole = msg.value - (msg.value % price);
        credit[msg.sender] = whole;
    }
}
"#,
    );
}

/// Values too narrow to reach the operation's width cannot overflow it: a hex parser's digits
/// (each a byte minus an offset, through an internal call) times 16 plus another, a byte times
/// a byte. The same shapes reach 2^256 with one full-width operand, and in a narrow type
/// (`uint8 * uint8`) they still wrap.
#[test]
fn overflow_not_reported_for_values_too_narrow_to_reach_the_width() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.4.24;
contract Parser {
    uint total;
    function digit(string c) public pure returns (uint) {
        bytes memory b = bytes(c);
        if (b[0] >= 48 && b[0] <= 57) {
            return uint(b[0]) - 48;
        }
        revert();
    }
    function pair(string hi, string lo) public pure returns (uint) {
        return digit(hi) * 16 + digit(lo);
    }
    function bytesTimes(bytes2 x) public pure returns (uint) {
        return uint(x[0]) * uint(x[1]);
    }
    function scaled(string hi, uint scale) public pure returns (uint) {
        return digit(hi) * scale; //~ integer-overflow
    }
    function narrow(uint8 a, uint8 b) public pure returns (uint8) {
        return a * b; //~ integer-overflow
    }
    function add(uint8 a) public {
        total = total + uint(a) * 2; //~ integer-overflow
    }
}
"#,
    );
}

/// A deadline the caller sets from the clock with an offset it picks freely gains nothing by
/// wrapping: the wrapped time is already past, as an offset of 0 makes it — whether stored
/// outright, raised to it only when later (a monotone lock) or kept in a struct the caller's
/// pointer reaches. Reported still: a minimum on the offset the wrap gets under, a modifier
/// checking it, a deadline used in arithmetic elsewhere, and a lock the caller extends from
/// its stored value (what SmartBugs' `timeLock` annotates).
#[test]
fn a_deadline_set_from_the_clock_with_any_offset_gains_nothing_by_wrapping() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.4.24;
contract Locks {
    struct Holder { uint balance; uint unlockTime; }
    mapping(address => Holder) accounts;
    mapping(address => uint) until;
    mapping(address => uint) minimumLock;
    mapping(address => uint) lockTime;
    mapping(address => uint) reward;
    uint public openUntil;
    event Opened(uint until);
    modifier atLeastAWeek(uint d) { require(d >= 1 weeks); _; }
    function put(uint lock) public payable {
        Holder storage acc = accounts[msg.sender];
        acc.balance += msg.value;
        if (now + lock > acc.unlockTime) acc.unlockTime = now + lock;
    }
    function collect(uint amount) public {
        Holder storage acc = accounts[msg.sender];
        if (acc.balance >= amount && now > acc.unlockTime) {
            acc.balance -= amount;
            msg.sender.transfer(amount);
        }
    }
    function open(uint duration) public {
        openUntil = block.timestamp + duration;
        emit Opened(openUntil);
    }
    function isOpen() public view returns (bool) { return now <= openUntil; }
    function lockAtLeastAWeek(uint d) public {
        require(d >= 1 weeks);
        minimumLock[msg.sender] = now + d; //~ integer-overflow
    }
    function lockWithModifier(uint d) public atLeastAWeek(d) {
        until[msg.sender] = now + d; //~ integer-overflow
    }
    function unlocked() public view returns (bool) {
        return now > until[msg.sender] && now > minimumLock[msg.sender];
    }
    function stake(uint d) public {
        lockTime[msg.sender] = now + d; //~ integer-overflow
    }
    function claim() public {
        require(now > lockTime[msg.sender]);
        reward[msg.sender] = lockTime[msg.sender] - 1000;
    }
    function increaseLockTime(uint secondsToIncrease) public {
        lockTime[msg.sender] += secondsToIncrease; //~ integer-overflow
    }
}
"#,
    );
}

/// A product whose factors only encode a number the caller picks — parameters read nowhere
/// else, one of which can be 1 — reaches no value the caller could not pass directly. Reported
/// still: a factor used again on its own (BEC's batch transfer credits each receiver `value`
/// after checking `count * value`), a factor compared, a product returned as the answer.
#[test]
fn a_product_that_only_encodes_the_callers_number_is_no_overflow() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.4.24;
contract Airdrop {
    mapping(address => uint) balances;
    function drop(address token, address from, address[] tos, uint v, uint decimals) public {
        bytes4 id = bytes4(keccak256("transferFrom(address,address,uint256)"));
        uint amount = v * 10 ** decimals;
        for (uint i = 0; i < tos.length; i++) {
            require(token.call(id, from, tos[i], amount));
        }
    }
    function scaled(address token, address to, uint units, uint unitSize) public {
        require(token.call(bytes4(keccak256("transfer(address,uint256)")), to, units * unitSize));
    }
    function batch(address[] receivers, uint value, uint count) public {
        uint amount = count * value; //~ integer-overflow
        require(balances[msg.sender] >= amount);
        balances[msg.sender] -= amount;
        for (uint i = 0; i < receivers.length; i++) {
            balances[receivers[i]] += value; //~ integer-overflow
        }
    }
    function capped(address token, address to, uint v, uint decimals) public {
        require(decimals <= 18);
        require(token.call(bytes4(keccak256("transfer(address,uint256)")), to, v * 10 ** decimals)); //~ integer-overflow
    }
    function product(uint x, uint y) public pure returns (uint) {
        return x * y; //~ integer-overflow
    }
}
"#,
    );
}

/// A subtraction whose right side is part of its left cannot go below zero: a loop index
/// minus where it started, an excess computed from the amount, a fixed fraction of it. A
/// setting only the stored first requester may change is an owner's. The near misses are
/// reported: an index that also moves down, a fraction above one, a stored part, a check of
/// the caller's own entry.
#[test]
fn overflow_not_below_a_part_of_the_whole() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.4.24;
contract Throne {
    struct Request { address requester; }
    Request[] requests;
    mapping(address => Request) byCaller;
    uint price;
    uint fee;
    uint stored;
    uint constant NUM = 1;
    uint constant DEN = 100;
    uint constant OVER = 150;
    function Throne() public { requests.push(Request(msg.sender)); }
    function slice(bytes data, uint start, uint end) public pure returns (bytes out) {
        out = new bytes(end - start); //~ integer-overflow
        for (uint i = start; i < end; i++) {
            out[i - start] = data[i];
        }
    }
    function wobble(bytes data, uint start, uint end) public pure returns (bytes out) {
        out = new bytes(32);
        for (uint i = start; i < end; i++) {
            out[i - start] = data[i]; //~ integer-overflow
            i -= 2;
        }
    }
    function claim() public payable {
        uint paid = msg.value;
        if (paid > price) {
            uint excess = paid - price;
            msg.sender.transfer(excess);
            paid = paid - excess;
        }
        uint commission = (paid * NUM) / DEN;
        uint rest = paid - commission;
        uint tooMuch = (paid * OVER) / DEN;
        uint less = paid - tooMuch; //~ integer-overflow
        msg.sender.transfer(rest + less);
    }
    function claimStored() public payable {
        uint paid = msg.value;
        msg.sender.transfer(paid - stored); //~ integer-overflow
    }
    function reset(uint newPrice, uint gas) public {
        if (msg.sender == requests[0].requester) {
            fee = newPrice * gas;
        }
    }
    function resetOwn(uint newPrice, uint gas) public {
        if (msg.sender == byCaller[msg.sender].requester) {
            fee = newPrice * gas; //~ integer-overflow
        }
    }
}
"#,
    );
}

/// An internal call's value is what the function returns: a flag computed from the caller's
/// value carries nothing of it, an echo carries all of it, and a library function bound with
/// `using for` receives its receiver as its first parameter.
#[test]
fn overflow_through_internal_calls_by_their_returns() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.4.24;
library Math {
    function times(uint a, uint b) internal pure returns (uint) {
        return a * b; //~ integer-overflow
    }
}
contract Shop {
    using Math for uint;
    uint total;
    uint bonus;
    function flag(uint x) internal pure returns (uint) {
        if (x > 10) return 1;
        return 0;
    }
    function echo(uint x) internal pure returns (uint) {
        return x;
    }
    function level(uint x) public {
        total = flag(x) * bonus;
    }
    function again(uint x) public {
        total = echo(x) * bonus; //~ integer-overflow
    }
    function double(uint price) public {
        total = price.times(2);
    }
}
"#,
    );
}

#[test]
fn overflow_from_0_8_only_when_unchecked() {
    expect(
        "integer-overflow",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Counter {
    mapping(address => uint256) public lockTime;
    function extend(uint256 by) external {
        lockTime[msg.sender] += by;
        unchecked {
            lockTime[msg.sender] += by; //~ integer-overflow
        }
    }
}
"#,
    );
}

#[test]
fn access_control_before_0_5() {
    let source = r#"pragma solidity ^0.4.24;
contract Wallet {
    address owner;
    address lib;
    mapping(address => bool) admins;
    modifier onlyOwner() {
        require(msg.sender == owner);
        _;
    }
    function wallet() public { //~ misnamed-constructor
        owner = msg.sender;
    }
    function Constructor() public { //~ misnamed-constructor
        owner = msg.sender;
    }
    function changeOwner(address next) public { //~ unprotected-authority-change
        owner = next;
    }
    function addAdmin(address a) public onlyOwner {
        admins[a] = true;
    }
    function grant(address a) public { //~ unprotected-authority-change
        admins[a] = true;
    }
    function setOwner(address next) public {
        require(admins[msg.sender]);
        owner = next;
    }
    function kill() public { //~ unprotected-selfdestruct
        selfdestruct(msg.sender);
    }
    // Only the owner — whom anyone can become through `changeOwner`.
    function close() public onlyOwner { //~ unprotected-selfdestruct
        selfdestruct(owner);
    }
    function forward(address target, bytes data) public {
        require(target.delegatecall(data)); //~ controlled-delegatecall
    }
    function() public {
        require(lib.delegatecall(msg.data)); //~ controlled-delegatecall
    }
    function upgrade() public onlyOwner {
        require(lib.delegatecall(bytes4(keccak256("migrate()"))));
    }
    // Success reverts: the called code's writes never persist (run for its return data).
    function probe(address target, bytes data) external {
        require(!target.delegatecall(data));
    }
    function probeAgain(address target, bytes data) external {
        if (target.delegatecall(data)) revert();
    }
    // Negated but not reverting: the writes persist.
    bool failed;
    function attempt(address target, bytes data) external {
        failed = !target.delegatecall(data); //~ controlled-delegatecall
    }
}
contract Proxy {
    // Named like the contract but initializing nothing: a forwarder, not a constructor.
    function proxy(address target) public payable {
        require(target.call.value(msg.value)());
    }
}
contract Raffle {
    struct Ticket { address holder; uint round; }
    mapping(uint => Ticket) tickets;
    uint next;
    uint round;
    // The caller joins as one more ticket holder, at an index the contract picks.
    function buy() public payable {
        tickets[next++] = Ticket(msg.sender, round);
    }
    function refund(uint i) public {
        require(tickets[i].holder == msg.sender);
        tickets[i] = Ticket(address(0), 0);
        msg.sender.transfer(1 ether);
    }
    // The caller picks whose ticket becomes theirs.
    function sit(uint seat) public { //~ unprotected-authority-change
        tickets[seat] = Ticket(msg.sender, round);
    }
    // A fixed seat.
    function claimFirst() public { //~ unprotected-authority-change
        tickets[0] = Ticket(msg.sender, round);
    }
}
"#;
    for rule in [
        "misnamed-constructor",
        "unprotected-authority-change",
        "unprotected-selfdestruct",
        "controlled-delegatecall",
    ] {
        expect(rule, source);
    }
}

#[test]
fn access_control_from_0_8() {
    let source = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Vault {
    address public owner;
    bool initialized;
    constructor() { owner = msg.sender; }
    modifier onlyOwner() { _checkOwner(); _; }
    function _checkOwner() internal view { require(owner == msg.sender, "not the owner"); }
    function initialize(address newOwner) external { //~ unprotected-authority-change
        require(!initialized);
        initialized = true;
        owner = newOwner;
    }
    function transferOwnership(address next) external onlyOwner {
        owner = next;
    }
    // Only the owner — whom anyone can become through `initialize` first.
    function destroy() external onlyOwner { //~ unprotected-selfdestruct
        selfdestruct(payable(owner));
    }
}
"#;
    expect("unprotected-authority-change", source);
    expect("unprotected-selfdestruct", source);
}

#[test]
fn denial_of_service() {
    let source = r#"pragma solidity ^0.4.24;
contract Auction {
    address owner = msg.sender;
    address leader;
    uint bid;
    address[] refunds;
    mapping(address => uint) owed;
    uint[] numbers;
    function outbid() public payable {
        require(msg.value > bid);
        if (leader != 0) {
            require(leader.send(bid)); //~ dos-failed-payment
        }
        leader = msg.sender;
        bid = msg.value;
    }
    function join() public payable {
        refunds.push(msg.sender);
        owed[msg.sender] = msg.value;
    }
    function refundAll() public {
        for (uint i = 0; i < refunds.length; i++) { //~ dos-unbounded-loop
            refunds[i].transfer(owed[refunds[i]]); //~ dos-failed-payment
        }
    }
    function add(uint value, uint count) public {
        for (uint i = 0; i < count; i++) { //~ dos-unbounded-loop
            numbers.push(value);
        }
    }
    function withdrawOwn() public {
        uint amount = owed[msg.sender];
        owed[msg.sender] = 0;
        msg.sender.transfer(amount);
    }
    function sweep() public {
        require(msg.sender == owner);
        owner.transfer(this.balance);
    }
    address[] payees;
    constructor() public {
        payees.push(msg.sender);
    }
    function payAll() public {
        // A list only the deployer filled: still, one payee refusing stops everyone's payment.
        for (uint i = 0; i < payees.length; i++) {
            require(payees[i].send(1 ether)); //~ dos-failed-payment
        }
    }
    function airdrop(address[] to, uint each) public payable {
        // The caller chooses the list and pays for its own gas: nobody else is blocked.
        for (uint i = 0; i < to.length; i++) {
            owed[to[i]] += each;
        }
    }
    // Emptying a list every caller adds to writes each element: a loop the compiler writes.
    function reset() public {
        if (refunds.length > 1500) {
            refunds = new address[](0); //~ dos-unbounded-loop
        }
        delete numbers; //~ dos-unbounded-loop
    }
    function restart() public {
        require(msg.sender == owner);
        refunds.length = 0; //~ dos-unbounded-loop
        delete payees;
    }
    address[2] pair;
    function clearPair() public {
        delete pair;
    }
}
"#;
    expect("dos-failed-payment", source);
    expect("dos-unbounded-loop", source);
}

#[test]
fn uninitialized_storage_pointers_before_0_5() {
    expect(
        "uninitialized-storage-pointer",
        r#"pragma solidity ^0.4.24;
contract Registrar {
    address owner;
    struct Record { bytes32 name; address target; }
    mapping(bytes32 => Record) records;
    Record[] all;
    function register(bytes32 name, address target) public {
        Record record; //~ uninitialized-storage-pointer
        record.name = name;
        record.target = target;
    }
    function explicitStorage() public {
        Record storage record; //~ uninitialized-storage-pointer
        record.name = "x";
    }
    function pointed(bytes32 name) public {
        Record storage record = records[name];
        record.target = msg.sender;
    }
    function temporary(bytes32 name) public {
        Record memory record;
        record.name = name;
        all.push(record);
    }
    function values() public pure returns (uint) {
        uint counter;
        return counter;
    }
}
"#,
    );
}

#[test]
fn front_running_a_revealed_secret() {
    expect(
        "front-running-secret",
        r#"pragma solidity ^0.8.0;
contract Puzzle {
    bytes32 public answerHash;
    mapping(address => bytes32) commits;
    constructor(bytes32 h) payable { answerHash = h; }
    function solve(string calldata answer) external {
        require(answerHash == keccak256(bytes(answer))); //~ front-running-secret
        payable(msg.sender).transfer(1 ether);
    }
    function commit(bytes32 c) external { commits[msg.sender] = c; }
    function reveal(string calldata answer, bytes32 salt) external {
        require(keccak256(abi.encodePacked(answer, msg.sender, salt)) == commits[msg.sender]);
        require(answerHash == keccak256(bytes(answer)));
        payable(msg.sender).transfer(1 ether);
    }
    function check(string calldata answer) external view returns (bool) {
        return answerHash == keccak256(bytes(answer));
    }
}
"#,
    );
}

#[test]
fn transaction_order_dependent_payments() {
    expect(
        "transaction-order-dependence",
        r#"pragma solidity ^0.4.24;
contract Reward {
    address owner;
    uint reward;
    uint pot;
    bool claimed;
    mapping(address => uint) credit;
    modifier onlyOwner { require(msg.sender == owner); _; }
    constructor() public { owner = msg.sender; }
    function setReward() public payable onlyOwner {
        owner.transfer(reward); //~ transaction-order-dependence
        reward = msg.value;
    }
    function claim() public {
        require(!claimed);
        msg.sender.transfer(reward); //~ transaction-order-dependence
        claimed = true;
    }
    function play() public payable {
        pot += msg.value;
        if (pot > 10 ether) { msg.sender.transfer(pot); pot = 0; }
    }
    function withdraw() public {
        uint amount = credit[msg.sender];
        credit[msg.sender] = 0;
        msg.sender.transfer(amount);
    }
}
"#,
    );
}

/// The findings of `rule` in `source`, as (line, confirmed).
fn confirmed(rule: &str, source: &str) -> Vec<(usize, bool)> {
    report(source)
        .findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.line, f.confirmed))
        .collect()
}

/// Asserts that `source` has `count` findings of `rule` and that no run confirmed any.
fn assert_reported_unconfirmed(rule: &str, source: &str, count: usize) {
    let runs = confirmed(rule, source);
    assert_eq!(runs.len(), count, "{runs:?}");
    assert!(runs.iter().all(|(_, c)| !*c), "{runs:?}");
}

/// Asserts that the first finding of `rule` in `source` is confirmed and says how (`shown`).
fn assert_confirmed_as(rule: &str, source: &str, shown: &str) {
    let finding = report(source)
        .findings
        .into_iter()
        .find(|f| f.rule == rule)
        .expect("reported");
    assert!(finding.confirmed, "{}", finding.message);
    assert!(finding.message.contains(shown), "{}", finding.message);
}

/// A stranger's call makes the contract ask a token (a probe that marks whose tokens it is asked
/// to move) to move another account's tokens; a pull refused for the run's small amount is
/// reported by the analysis and not confirmed.
#[test]
fn runs_in_revm_confirm_a_stranger_spending_approvals_given_to_the_contract() {
    let source = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
interface IERC20 {
    function transferFrom(address from, address to, uint256 v) external returns (bool);
}
contract Router {
    IERC20 immutable token;
    constructor(IERC20 t) { token = t; }
    function deposit(uint256 v) external { require(token.transferFrom(msg.sender, address(this), v)); }
    function pull(address from, address to, uint256 v) external {
        require(token.transferFrom(from, to, v), "failed");
    }
    function pullLarge(address from, uint256 v) external {
        require(v >= 1000, "too small");
        require(token.transferFrom(from, msg.sender, v), "failed");
    }
    function execute(address target, bytes calldata data) external {
        (bool ok, ) = target.call(data);
        require(ok, "call failed");
    }
}
"#;
    assert_eq!(
        confirmed("arbitrary-transfer-from", source),
        vec![(11, true), (15, false)]
    );
    assert_confirmed_as(
        "arbitrary-transfer-from",
        source,
        "it asked the token to move that account's tokens",
    );
    assert_confirmed_as(
        "arbitrary-call",
        source,
        "`transferFrom(another account, the caller, 1)` as the data, it made that call as this contract",
    );
}

#[test]
fn runs_in_revm_confirm_an_owner_taken_and_a_contract_destroyed_by_a_stranger() {
    let source = r#"pragma solidity ^0.4.24;
contract Wallet {
    bool open;
    address owner;
    bool started;
    constructor() public payable { owner = msg.sender; }
    function start() public {
        require(msg.sender == owner);
        started = true;
    }
    function setOwner(address next) public {
        owner = next;
    }
    function setOwnerOnceStarted(address next) public {
        require(started);
        owner = next;
    }
    function kill() public {
        selfdestruct(msg.sender);
    }
    function killOnceStarted() public {
        require(started);
        selfdestruct(msg.sender);
    }
    function withdraw() public {
        require(msg.sender == owner);
        msg.sender.transfer(address(this).balance);
    }
}
"#;
    // The unguarded ones are shown by running them (`owner` shares its slot with two flags);
    // those that revert here stay unconfirmed.
    assert_eq!(
        confirmed("unprotected-authority-change", source),
        [(11, true), (14, false)]
    );
    assert_eq!(
        confirmed("unprotected-selfdestruct", source),
        [(18, true), (21, false)]
    );
    // Never started (nothing sets `started`): the guarded ones can never run, and are not
    // reported at all.
    let never_started = source.replace("started = true;", "");
    assert_eq!(
        confirmed("unprotected-authority-change", &never_started),
        [(11, true)]
    );
    assert_eq!(
        confirmed("unprotected-selfdestruct", &never_started),
        [(18, true)]
    );
    let with_arguments = r#"pragma solidity ^0.8.0;
contract Vault {
    address public admin;
    uint public limit;
    constructor(address first, uint start) { admin = first; limit = start; }
    function initialize(address who, uint newLimit) external {
        admin = who;
        limit = newLimit;
    }
    function setLimit(uint next) external {
        require(msg.sender == admin);
        limit = next;
    }
}
"#;
    assert_eq!(
        confirmed("unprotected-authority-change", with_arguments),
        [(6, true)]
    );
    // A misnamed constructor is shown like an owner change: a stranger calls it and becomes
    // the owner.
    let misnamed = r#"pragma solidity ^0.4.24;
contract Missing {
    address owner;
    uint fee;
    function missing() public {
        owner = msg.sender;
    }
    function Constructor() public {
        fee = 1;
    }
}
"#;
    assert_eq!(
        confirmed("misnamed-constructor", misnamed),
        [(5, true), (8, false)]
    );
}

#[test]
fn short_address_transfers_before_0_5() {
    let token = r#"pragma solidity ^0.4.24;
contract Token {
    mapping(address => uint) balances;
    mapping(address => mapping(address => uint)) allowed;
    modifier onlyPayloadSize(uint size) { require(msg.data.length >= size + 4); _; }
    function transfer(address to, uint amount) public returns (bool) { //~ short-address
        require(balances[msg.sender] >= amount);
        balances[msg.sender] -= amount;
        balances[to] += amount;
        return true;
    }
    function checkedTransfer(address to, uint amount) public onlyPayloadSize(64) {
        balances[msg.sender] -= amount;
        balances[to] += amount;
    }
    function inlineChecked(address to, uint amount) public {
        require(msg.data.length == 68);
        balances[msg.sender] -= amount;
        balances[to] += amount;
    }
    function approve(address spender, uint amount) public {
        allowed[msg.sender][spender] = amount;
    }
    function amountFirst(uint amount, address to) public {
        balances[msg.sender] -= amount;
        balances[to] += amount;
    }
}
"#;
    expect("short-address", token);
    // From 0.5 the decoder itself refuses short calldata.
    expect(
        "short-address",
        &token
            .replace("^0.4.24", "^0.5.0")
            .replace(" //~ short-address", ""),
    );
}

/// A short address is confirmed when the holder's call missing the recipient's last byte moves
/// what a full call with 256 times the amount moves: the holder's tokens from the constructor,
/// from an initial supply passed to it, from a sale, or from a token that inherits the flagged
/// transfer. A transfer that ignores the amount, or a token nobody can hold, stays unconfirmed.
#[test]
fn runs_in_revm_confirm_a_short_address_moving_256_times_the_amount() {
    let base = r#"pragma solidity ^0.4.24;
contract BasicToken {
    mapping(address => uint) balances;
    function transfer(address to, uint amount) public returns (bool) {
        require(balances[msg.sender] >= amount);
        balances[msg.sender] -= amount;
        balances[to] += amount;
        return true;
    }
}
"#;
    let shown = "with the recipient's last byte (a zero) left out, it moved what a call with the full address and 256 times the amount moves";
    let created = format!(
        "{base}contract Created is BasicToken {{\n    constructor() public {{ balances[msg.sender] = 1000; }}\n}}\n"
    );
    assert_confirmed_as(
        "short-address",
        &created,
        &format!("{shown}, run on `Created`, which inherits it"),
    );
    let supplied = format!(
        "{base}contract Supplied is BasicToken {{\n    constructor(uint supply, uint8 decimals) public {{ balances[msg.sender] = supply * 10 ** uint(decimals); }}\n}}\n"
    );
    assert_confirmed_as("short-address", &supplied, "run on `Supplied`");
    let sold = base.replace(
        "    function transfer",
        "    function buy() public payable { balances[msg.sender] += msg.value; }\n    function transfer",
    );
    assert_confirmed_as("short-address", &sold, shown);
    // An heir whose transfer passes on to the base's runs it; one that replaces it does not.
    let paused = format!(
        "{base}contract Paused is BasicToken {{\n    bool paused;\n    constructor() public {{ balances[msg.sender] = 1000; }}\n    function transfer(address to, uint amount) public returns (bool) {{ require(!paused); return super.transfer(to, amount); }}\n}}\n"
    );
    assert_confirmed_as("short-address", &paused, "run on `Paused`");
    let replaced = format!(
        "{base}contract Replaced is BasicToken {{\n    constructor() public {{ balances[msg.sender] = 1000; }}\n    function transfer(address to, uint amount) public returns (bool) {{ balances[msg.sender] -= amount; balances[to] += amount; return true; }}\n}}\n"
    );
    // Its own transfer (line 13) is shown on it; the base's (line 4) is not shown through it.
    assert_eq!(
        confirmed("short-address", &replaced),
        [(4, false), (13, true)]
    );
    // Nobody ever holds a token: nothing to move, nothing shown.
    assert_reported_unconfirmed("short-address", base, 1);
    // The amount is read but a fixed unit moves: the shifted amount changes nothing.
    let fixed = r#"pragma solidity ^0.4.24;
contract Fixed {
    mapping(address => uint) balances;
    mapping(address => uint) asked;
    constructor() public { balances[msg.sender] = 1000; }
    function give(address to, uint amount) public {
        asked[msg.sender] = amount > 0 ? 1 : 0;
        balances[msg.sender] -= 1;
        balances[to] += 1;
    }
}
"#;
    assert_reported_unconfirmed("short-address", fixed, 1);
}

#[test]
fn cross_function_reentrancy_past_a_lock_on_one_function() {
    let open = r#"pragma solidity ^0.8.0;
contract Cross {
    mapping(address => uint) balances;
    bool locked;
    modifier nonReentrant() { require(!locked); locked = true; _; locked = false; }
    function transfer(address to, uint amount) external {
        require(balances[msg.sender] >= amount);
        balances[to] += amount;
        balances[msg.sender] -= amount;
    }
    function withdraw() external nonReentrant {
        uint amount = balances[msg.sender];
        (bool ok, ) = msg.sender.call{value: amount}(""); //~ reentrancy-eth
        require(ok);
        balances[msg.sender] = 0;
    }
}
"#;
    expect("reentrancy-eth", open);
    // The same lock on every function that uses `balances` closes it.
    expect(
        "reentrancy-eth",
        &open
            .replace(
                "uint amount) external {",
                "uint amount) external nonReentrant {",
            )
            .replace(" //~ reentrancy-eth", ""),
    );
}

/// Past a lock, an open function matters only if the stale value can decide something in it.
/// One that only adds to the balance (a deposit) while the locked one settles it in place after
/// the call (`-=`) gives the same balance in either order; one that reads the balance, or a
/// locked one that overwrites it with a value from before the call, is still reported.
#[test]
fn cross_function_reentrancy_needs_an_open_function_the_stale_value_can_mislead() {
    let settled_in_place = r#"pragma solidity ^0.8.0;
contract Bank {
    mapping(address => uint) balances;
    bool locked;
    modifier nonReentrant() { require(!locked); locked = true; _; locked = false; }
    function deposit() external payable {
        balances[msg.sender] += msg.value;
    }
    function withdraw(uint amount) external nonReentrant {
        require(balances[msg.sender] >= amount);
        (bool ok, ) = msg.sender.call{value: amount}(""); //~ reentrancy-eth
        require(ok);
        balances[msg.sender] -= amount;
    }
}
"#;
    expect(
        "reentrancy-eth",
        &settled_in_place.replace(" //~ reentrancy-eth", ""),
    );
    // The deposit's credit is overwritten by a value read before the call.
    expect(
        "reentrancy-eth",
        &settled_in_place.replace(
            "balances[msg.sender] -= amount;",
            "balances[msg.sender] = 0;",
        ),
    );
    // A bonus computed from the balance the call has not yet reduced.
    expect(
        "reentrancy-eth",
        &settled_in_place.replace(
            "balances[msg.sender] += msg.value;",
            "balances[msg.sender] += msg.value + balances[msg.sender] / 10;",
        ),
    );
    // A decision on it: a cap checked against the balance not yet reduced.
    expect(
        "reentrancy-eth",
        &settled_in_place.replace(
            "balances[msg.sender] += msg.value;",
            "require(balances[msg.sender] + msg.value <= 100 ether); balances[msg.sender] += msg.value;",
        ),
    );
    // Written out, and with SafeMath, before 0.5.
    let spelled_out = r#"pragma solidity ^0.4.24;
library SafeMath {
    function add(uint a, uint b) internal pure returns (uint) { uint c = a + b; require(c >= a); return c; }
}
contract Bank {
    using SafeMath for uint;
    mapping(address => uint) balances;
    bool locked;
    modifier nonReentrant() { require(!locked); locked = true; _; locked = false; }
    function deposit() public payable {
        balances[msg.sender] = balances[msg.sender].add(msg.value);
    }
    function depositFor(address who) public payable {
        balances[who] = msg.value + balances[who];
    }
    function withdraw(uint amount) public nonReentrant {
        require(balances[msg.sender] >= amount);
        require(msg.sender.call.value(amount)()); //~ reentrancy-eth
        balances[msg.sender] = balances[msg.sender] - amount;
    }
}
"#;
    expect(
        "reentrancy-eth",
        &spelled_out.replace(" //~ reentrancy-eth", ""),
    );
    expect(
        "reentrancy-eth",
        &spelled_out.replace("msg.value + balances[who]", "msg.value * balances[who]"),
    );
}

/// A function that checks, after its call and before its write, the same condition on the state
/// it checked before (OpenZeppelin's TimelockController: `isOperationReady(id)` in `_beforeCall`
/// and again in `_afterCall`) is not open to re-entry: a nested run that executed the operation
/// makes the outer check fail, and everything reverts. A different or missing check after the
/// call is still reported.
#[test]
fn reentrancy_caught_by_the_same_check_after_the_call() {
    let timelock = r#"pragma solidity ^0.8.0;
contract Timelock {
    uint256 internal constant DONE = 1;
    mapping(bytes32 => uint256) private _timestamps;
    function schedule(bytes32 id, uint256 delay) external {
        require(_timestamps[id] == 0);
        _timestamps[id] = block.timestamp + delay;
    }
    function isOperationReady(bytes32 id) public view returns (bool) {
        uint256 t = _timestamps[id];
        return t > DONE && t <= block.timestamp;
    }
    function execute(address target, uint256 value, bytes calldata data) external payable {
        bytes32 id = keccak256(abi.encode(target, value, data));
        _beforeCall(id);
        (bool ok, ) = target.call{value: value}(data); //~ reentrancy-eth
        require(ok);
        _afterCall(id);
    }
    function _beforeCall(bytes32 id) private view {
        require(isOperationReady(id), "not ready");
    }
    function _afterCall(bytes32 id) private {
        require(isOperationReady(id), "not ready");
        _timestamps[id] = DONE;
    }
}
"#;
    expect(
        "reentrancy-eth",
        &timelock.replace(" //~ reentrancy-eth", ""),
    );
    // A weaker check after the call passes again once a nested run marked it done.
    expect(
        "reentrancy-eth",
        &timelock.replace(
            "require(isOperationReady(id), \"not ready\");\n        _timestamps[id] = DONE;",
            "require(_timestamps[id] != 0);\n        _timestamps[id] = DONE;",
        ),
    );
    // No check after the call.
    expect(
        "reentrancy-eth",
        &timelock.replace(
            "require(isOperationReady(id), \"not ready\");\n        _timestamps[id] = DONE;",
            "_timestamps[id] = DONE;",
        ),
    );
}

/// The DAO's attack, run: an attacker contract deposits, withdraws, and re-enters from its
/// fallback. Confirmed where it leaves with more than it put in; a withdrawal that reverts for
/// it (here: only while paused) stays as the analysis reported it.
#[test]
fn runs_in_revm_confirm_a_reentrant_withdrawal_by_draining_it() {
    let before_0_5 = r#"pragma solidity ^0.4.24;
contract Bank {
    mapping(address => uint) balances;
    bool paused;
    address owner;
    function pause() public {
        require(msg.sender == owner);
        paused = true;
    }
    function deposit() public payable {
        balances[msg.sender] += msg.value;
    }
    function withdraw(uint amount) public {
        if (balances[msg.sender] >= amount) {
            if (msg.sender.call.value(amount)()) {
                balances[msg.sender] -= amount;
            }
        }
    }
    function withdrawWhilePaused(uint amount) public {
        require(paused);
        if (balances[msg.sender] >= amount) {
            if (msg.sender.call.value(amount)()) {
                balances[msg.sender] -= amount;
            }
        }
    }
}
"#;
    let runs = confirmed("reentrancy-eth", before_0_5);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[0].1, "the open withdrawal is drained: {runs:?}");
    assert!(!runs[1].1, "the paused one reverts: {runs:?}");
    let message = report(before_0_5)
        .findings
        .into_iter()
        .find(|f| f.rule == "reentrancy-eth" && f.confirmed)
        .map(|f| f.message)
        .unwrap_or_default();
    assert!(
        message.contains("deposited 1 ether re-entered it and left with 3 ether"),
        "{message}"
    );
    let from_0_8 = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Vault {
    mapping(address => uint256) public balances;
    function put(uint256 amount) external payable {
        require(msg.value == amount);
        balances[msg.sender] += amount;
    }
    function takeAll() external {
        uint256 amount = balances[msg.sender];
        (bool ok, ) = msg.sender.call{value: amount}("");
        require(ok);
        balances[msg.sender] = 0;
    }
}
"#;
    let runs = confirmed("reentrancy-eth", from_0_8);
    assert!(!runs.is_empty() && runs.iter().all(|(_, c)| *c), "{runs:?}");
    // A minimum above one ether: deposits of one are ignored, so the attack deposits ten.
    let minimum = r#"pragma solidity ^0.4.24;
contract Vault {
    mapping(address => uint) public balances;
    uint public MinDeposit = 1 ether;
    function Deposit() public payable {
        if (msg.value > MinDeposit) { balances[msg.sender] += msg.value; }
    }
    function CashOut(uint amount) public {
        if (amount <= balances[msg.sender]) {
            if (msg.sender.call.value(amount)()) { balances[msg.sender] -= amount; }
        }
    }
}
"#;
    assert_confirmed_as(
        "reentrancy-eth",
        minimum,
        "deposited 10 ether re-entered it and left with 30 ether",
    );
}

/// Wrap-around, run: a stranger's call with 1 leaves `2^256 - 1` in a balance; two calls with
/// the largest integer make a lock time smaller. A function that reverts for the stranger stays
/// unconfirmed.
#[test]
fn runs_in_revm_confirm_integers_that_wrap_into_storage() {
    let source = r#"pragma solidity ^0.4.24;
contract Locker {
    mapping(address => uint) public balances;
    mapping(address => uint) public lockTime;
    address owner;
    function transfer(address to, uint value) public {
        balances[msg.sender] -= value;
        balances[to] += value;
    }
    function increaseLockTime(uint by) public {
        lockTime[msg.sender] += by;
    }
    function increaseLockTimeOfOwner(uint by) public {
        require(lockTime[owner] > 0);
        lockTime[owner] += by;
    }
    uint count = 1;
    function add(uint input) public {
        count += input;
    }
    function sub(uint input) public {
        count -= input;
    }
}
"#;
    // A counter that starts at one wraps on the first call (`1 + max`) and needs more than one
    // to go below zero.
    assert_eq!(
        confirmed("integer-overflow", source),
        [
            (7, true),
            (8, true),
            (11, true),
            (15, false),
            (19, true),
            (22, true)
        ]
    );
    // The first call only sets the function up; the second wraps.
    let set_up_first = r#"pragma solidity ^0.4.24;
contract Counter {
    bool started;
    uint count = 1;
    function run(uint input) public {
        if (!started) { started = true; return; }
        count -= input;
    }
}
"#;
    assert_confirmed_as(
        "integer-overflow",
        set_up_first,
        "called twice by an unrelated account with 10^18 (one ether)",
    );
    // Set up by another function, which takes no arguments, called first.
    let started_elsewhere = set_up_first.replace(
        "function run(uint input) public {",
        "function start() public { started = true; }\n    function run(uint input) public {\n        if (!started) { return; }",
    );
    assert_confirmed_as(
        "integer-overflow",
        &started_elsewhere,
        "with 1 after that account called `start()`",
    );
}

/// Code behind a guard that no value its state variable can ever hold passes — the initial
/// value and every literal any code writes — runs in no transaction, and nothing there is
/// reported (the SWC registry's "infeasible" samples). Where some write lets the guard pass,
/// where a variable takes values no one can list, or where assembly or `delegatecall` could
/// write any slot, the same code is reported.
#[test]
fn nothing_reported_where_no_reachable_state_lets_code_run() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.4.24;
contract Counter {
    uint256 private initialized = 0;
    uint256 private stage;
    bool private open;
    uint256 private limit;
    uint256 public count = 1;
    function close() public { stage = 1; delete open; }
    function run(uint256 input) public {
        if (initialized == 0) {
            return;
        }
        count -= input;
    }
    function later(uint256 input) public {
        require(stage == 2);
        count += input;
    }
    modifier whenOpen() { require(open); _; }
    function spend(uint256 input) public whenOpen {
        count -= input;
    }
    // Some write passes these guards.
    function reachedAfterClose(uint256 input) public {
        if (stage != 1) revert();
        count -= input; //~ integer-overflow
    }
    function setLimit(uint256 value) public { limit = value; }
    function bounded(uint256 input) public {
        require(limit > 5);
        count += input; //~ integer-overflow
    }
}
"#,
    );
    expect(
        "unprotected-selfdestruct",
        r#"pragma solidity ^0.4.24;
contract Closed {
    uint256 private initialized = 0;
    function init() public { initialized = 1; }
    function run() public {
        if (initialized != 2) {
            return;
        }
        selfdestruct(msg.sender);
    }
    function stop() public { //~ unprotected-selfdestruct
        if (initialized != 1) return;
        selfdestruct(msg.sender);
    }
}
contract Anything {
    uint256 private initialized = 0;
    address lib;
    function forward() public { require(lib.delegatecall(bytes4(keccak256("f()")))); }
    // The library's code may write `initialized`.
    function run() public { //~ unprotected-selfdestruct
        if (initialized != 2) return;
        selfdestruct(msg.sender);
    }
}
"#,
    );
}

/// Access control written the way OpenZeppelin writes it: the sender through `_msgSender()`,
/// the owner through a getter and a check with a custom error in a function the modifier calls,
/// roles checked in a function the caller is passed to (three calls deep), and a reentrancy
/// status kept at a computed storage slot instead of a state variable. Each protects; the same
/// functions without the modifier are reported.
#[test]
fn access_control_through_getters_helpers_and_storage_slots() {
    let source = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
abstract contract Context {
    function _msgSender() internal view virtual returns (address) { return msg.sender; }
}
abstract contract Ownable is Context {
    address private _owner;
    error Unauthorized(address account);
    constructor() { _owner = _msgSender(); }
    modifier onlyOwner() { _checkOwner(); _; }
    function owner() public view returns (address) { return _owner; }
    function _checkOwner() internal view {
        if (owner() != _msgSender()) revert Unauthorized(_msgSender());
    }
}
abstract contract Roles is Context {
    mapping(bytes32 => mapping(address => bool)) private _members;
    error MissingRole(address account, bytes32 role);
    modifier onlyRole(bytes32 role) { _checkRole(role); _; }
    function hasRole(bytes32 role, address account) public view returns (bool) {
        return _members[role][account];
    }
    function _checkRole(bytes32 role) internal view { _checkRole(role, _msgSender()); }
    function _checkRole(bytes32 role, address account) internal view {
        if (!hasRole(role, account)) revert MissingRole(account, role);
    }
    function _grant(bytes32 role, address account) internal { _members[role][account] = true; }
}
library Slots {
    struct Uint256Slot { uint256 value; }
    function getUint256Slot(bytes32 slot) internal pure returns (Uint256Slot storage r) {
        assembly { r.slot := slot }
    }
}
abstract contract Guard {
    bytes32 private constant STATUS = keccak256("guard.status");
    modifier nonReentrant() {
        require(Slots.getUint256Slot(STATUS).value != 2);
        Slots.getUint256Slot(STATUS).value = 2;
        _;
        Slots.getUint256Slot(STATUS).value = 1;
    }
}
contract Vault is Ownable, Roles, Guard {
    bytes32 constant ADMIN = keccak256("ADMIN");
    mapping(address => uint256) balances;
    constructor() { _grant(ADMIN, _msgSender()); }
    function close() external onlyOwner { selfdestruct(payable(owner())); }
    function retire() external onlyRole(ADMIN) { selfdestruct(payable(_msgSender())); }
    function closeOpen() external { //~ unprotected-selfdestruct
        selfdestruct(payable(_msgSender()));
    }
    function forward(address target, bytes calldata data) external onlyOwner {
        (bool ok, ) = target.delegatecall(data);
        require(ok);
    }
    function forwardOpen(address target, bytes calldata data) external {
        (bool ok, ) = target.delegatecall(data); //~ controlled-delegatecall
        require(ok);
    }
    // The lock keeps the callee out of `withdraw` (so no plain reentrancy), not out of
    // `withdrawOpen`, which uses the same balances (cross-function).
    function withdraw() external nonReentrant {
        uint256 amount = balances[_msgSender()];
        (bool ok, ) = _msgSender().call{value: amount}(""); //~ reentrancy-eth
        require(ok);
        balances[_msgSender()] = 0;
    }
    function withdrawOpen() external {
        uint256 amount = balances[msg.sender];
        (bool ok, ) = msg.sender.call{value: amount}(""); //~ reentrancy-eth
        require(ok);
        balances[msg.sender] = 0;
    }
}
"#;
    for rule in [
        "unprotected-selfdestruct",
        "controlled-delegatecall",
        "reentrancy-eth",
    ] {
        expect(rule, source);
    }
    // The slot-kept status is recognised as the lock it is.
    let locked = report(source)
        .findings
        .into_iter()
        .find(|f| f.rule == "reentrancy-eth" && f.function == "withdraw")
        .expect("reported");
    assert!(
        locked
            .message
            .contains("its lock does not cover `withdrawOpen`"),
        "{}",
        locked.message
    );
}

/// A delegatecall into the contract's own code — `address(this)`, directly or through a helper
/// every caller of which passes it (a multicall) — runs functions the caller could call
/// anyway: not reported. The same helper also called with a target the caller picks is.
#[test]
fn delegatecall_into_the_contracts_own_code() {
    let batch = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
library Addr {
    function delegate(address target, bytes memory data) internal returns (bytes memory) {
        (bool ok, bytes memory out) = target.delegatecall(data); //~ controlled-delegatecall
        require(ok);
        return out;
    }
}
contract Batch {
    function multicall(bytes[] calldata data) external {
        for (uint256 i = 0; i < data.length; i++) Addr.delegate(address(this), data[i]);
    }
    function again(bytes calldata data) external {
        (bool ok, ) = address(this).delegatecall(data);
        require(ok);
    }
}
"#;
    expect(
        "controlled-delegatecall",
        &batch.replace(" //~ controlled-delegatecall", ""),
    );
    let relay = format!(
        "{batch}contract Relay {{\n    function relay(address target, bytes calldata data) external {{\n        Addr.delegate(target, data);\n    }}\n}}\n"
    );
    expect("controlled-delegatecall", &relay);
}

/// A flag in the caller's own row of a nested mapping is the caller delegating what is theirs
/// (ERC-721's `setApprovalForAll`); a flag keyed by the caller alone, or in someone else's row,
/// is authority taken.
#[test]
fn a_flag_in_the_callers_own_row_is_a_delegation() {
    expect(
        "unprotected-authority-change",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Nft {
    mapping(uint256 => address) public ownerOf;
    mapping(address => mapping(address => bool)) public isApprovedForAll;
    mapping(address => bool) public minters;
    function setApprovalForAll(address operator, bool approved) external {
        isApprovedForAll[msg.sender][operator] = approved;
    }
    function approveMe(address holder) external { //~ unprotected-authority-change
        isApprovedForAll[holder][msg.sender] = true;
    }
    function becomeMinter() external { //~ unprotected-authority-change
        minters[msg.sender] = true;
    }
    function mint(uint256 id) external {
        require(minters[msg.sender] && ownerOf[id] == address(0));
        ownerOf[id] = msg.sender;
    }
    function transferFrom(address from, address to, uint256 id) external {
        require(ownerOf[id] == from && (msg.sender == from || isApprovedForAll[from][msg.sender]));
        ownerOf[id] = to;
    }
}
"#,
    );
}

/// A registry's first-come claim — the caller written into an entry at keys they pick, after
/// the function required the entry empty — takes nothing anyone held (traceability and asset
/// registries are made of them). The same write without the emptiness check steals an entry; a
/// whole variable claimed while empty is an open initializer; both stay reported.
#[test]
fn a_first_come_claim_of_an_empty_entry_is_not_an_authority_change() {
    expect(
        "unprotected-authority-change",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Assets {
    struct Asset { address owner; bytes32 meta; bool exists; }
    mapping(bytes32 => Asset) public assets;
    mapping(string => address) public names;
    mapping(uint256 => address) public seats;
    address public admin;
    error Taken();
    function register(bytes32 id, bytes32 meta) external {
        require(assets[id].owner == address(0), "taken");
        assets[id] = Asset(msg.sender, meta, true);
    }
    function registerFlagged(bytes32 id) external {
        require(!assets[id].exists);
        assets[id].owner = msg.sender;
        assets[id].exists = true;
    }
    function claimName(string calldata name) external {
        if (names[name] != address(0)) revert Taken();
        names[name] = msg.sender;
    }
    function seize(bytes32 id) external { //~ unprotected-authority-change
        assets[id].owner = msg.sender;
    }
    function takeSeat() external { //~ unprotected-authority-change
        require(seats[1] == address(0));
        seats[1] = msg.sender;
    }
    function setAdmin(address a) external { //~ unprotected-authority-change
        require(admin == address(0));
        admin = a;
    }
    function transfer(bytes32 id, address to) external {
        require(msg.sender == assets[id].owner, "not yours");
        assets[id].owner = to;
    }
    function release(string calldata name) external {
        require(names[name] == msg.sender);
        delete names[name];
    }
    function sit(uint256 seat) external { require(seats[seat] == msg.sender); }
    function pause() external view { require(msg.sender == admin); }
}
"#,
    );
}

/// Authority is the member compared with the caller: a proposal's `proposer` authorizes its
/// cancellation, so an open function that rewrites `proposer` is reported, and one that marks
/// the same proposal `executed` (anyone may execute a passed proposal) is not.
#[test]
fn authority_is_the_member_compared_with_the_caller() {
    expect(
        "unprotected-authority-change",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Governor {
    struct Proposal { address proposer; bool executed; bool canceled; }
    mapping(uint256 => Proposal) proposals;
    uint256 next;
    function propose() external {
        proposals[next++].proposer = msg.sender;
    }
    function cancel(uint256 id) external {
        require(msg.sender == proposals[id].proposer);
        proposals[id].canceled = true;
    }
    function execute(uint256 id) external {
        require(!proposals[id].executed && !proposals[id].canceled);
        proposals[id].executed = true;
    }
    function adopt(uint256 id, address who) external { //~ unprotected-authority-change
        proposals[id].proposer = who;
    }
}
"#,
    );
}

/// Paying the caller more than they are owed: a credit paid and never reduced, an amount they
/// name with the check the wrong way round or none. Reducing the credit, bounding the amount,
/// 0.8's checked debit and owner-only functions are not reported.
#[test]
fn unprotected_withdrawals() {
    expect(
        "unprotected-withdrawal",
        r#"pragma solidity ^0.4.24;
contract Wallet {
    address owner;
    mapping(address => uint256) balances;
    constructor() public { owner = msg.sender; }
    function deposit() public payable {
        balances[msg.sender] += msg.value;
    }
    function refund() public {
        msg.sender.transfer(balances[msg.sender]); //~ unprotected-withdrawal
    }
    function refundOnce() public {
        uint256 owed = balances[msg.sender];
        balances[msg.sender] = 0;
        msg.sender.transfer(owed);
    }
    function withdrawConfused(uint256 amount) public {
        require(amount >= balances[msg.sender]); //~ unprotected-withdrawal
        msg.sender.transfer(amount);
        balances[msg.sender] -= amount;
    }
    function withdrawUnchecked(uint256 amount) public {
        msg.sender.transfer(amount); //~ unprotected-withdrawal
    }
    function withdraw(uint256 amount) public {
        require(amount <= balances[msg.sender]);
        balances[msg.sender] -= amount;
        msg.sender.transfer(amount);
    }
    function sweep(uint256 amount) public {
        require(msg.sender == owner);
        msg.sender.transfer(amount);
    }
    // Everything to anyone, nothing checked first.
    function drain() public {
        msg.sender.transfer(this.balance); //~ unprotected-withdrawal
    }
    function drainBySend() public {
        require(msg.sender.send(address(this).balance)); //~ unprotected-withdrawal
    }
    // A prize behind a condition, a deadline or an internal check is the contract's design.
    bytes32 answerHash;
    uint deadline;
    function solve(string answer) public {
        if (keccak256(answer) == answerHash) msg.sender.transfer(this.balance);
    }
    function close() public {
        require(now > deadline);
        msg.sender.transfer(this.balance);
    }
    function settle() public {
        checkWinner();
        msg.sender.transfer(this.balance);
    }
    function checkWinner() internal view {
        require(balances[msg.sender] > 10 ether);
    }
    modifier onlyAfter(uint time) { require(now > time); _; }
    function late() public onlyAfter(deadline) {
        msg.sender.transfer(this.balance);
    }
    // Paid to the owner, not the caller.
    function collect() public {
        owner.transfer(this.balance);
    }
}
"#,
    );
    expect(
        "unprotected-withdrawal",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Vault {
    mapping(address => uint256) balances;
    function withdraw(uint256 amount) external {
        // Checked arithmetic reverts when the debit is more than the balance.
        balances[msg.sender] -= amount;
        payable(msg.sender).transfer(amount);
    }
    function take(uint256 amount) external {
        payable(msg.sender).transfer(amount); //~ unprotected-withdrawal
    }
}
"#,
    );
}

/// Releases before 0.4.11 have no standard-JSON interface and write only the legacy AST (no
/// references between nodes): the same detectors read it once converted, with names resolved
/// (modifiers, internal calls, state variables, locals), and report what they report on the
/// same contract compiled by 0.4.24 — confirmation runs included, on 0.4.9's bytecode.
#[test]
fn releases_before_0_4_11_are_read_through_their_legacy_ast() {
    let source = r#"pragma solidity 0.4.9;
contract Owned {
    address owner;
    modifier onlyOwner() { if (msg.sender != owner) throw; _; }
    function Owned() { owner = msg.sender; }
}
contract Bank is Owned {
    mapping(address => uint) balances;
    function deposit() payable { balances[msg.sender] += msg.value; }
    function owed() internal returns (uint) { return balances[msg.sender]; }
    function withdraw() {
        if (!msg.sender.call.value(owed())()) throw; //~ reentrancy-eth
        balances[msg.sender] = 0;
    }
    function close() onlyOwner { selfdestruct(owner); }
    function destroy() { selfdestruct(msg.sender); } //~ unprotected-selfdestruct
    function fromOrigin() { if (tx.origin != owner) throw; owner = msg.sender; } //~ tx-origin
    function lucky() payable {
        for (uint i = 0; i < 3; i++) {
            if (uint(sha3(block.blockhash(block.number - 1), i)) % 2 == 0) return; //~ weak-randomness
        }
        if (!msg.sender.send(msg.value * 2)) throw;
    }
}
"#;
    let compiler = Compiler::new(CompilerConfig::new(default_cache_dir()));
    let run = |source: &str| {
        let request = CompileRequest {
            sources: [("Test.sol".to_owned(), source.to_owned())].into(),
            ..CompileRequest::default()
        };
        let (compiled, report) =
            check(&compiler, &request, None, Duration::from_secs(20)).expect("checks");
        assert!(report.incomplete.is_empty(), "{:?}", report.incomplete);
        let findings: BTreeSet<(usize, String, bool)> = report
            .findings
            .iter()
            .map(|f| (f.line, f.rule.to_owned(), f.confirmed))
            .collect();
        (compiled.compiler, findings)
    };
    let (compiler_name, old) = run(source);
    assert_eq!(compiler_name, "solc 0.4.9+commit.364da425");
    let expected: BTreeSet<(usize, String)> = source
        .lines()
        .enumerate()
        .filter_map(|(i, line)| Some((i + 1, line.split_once("//~ ")?.1.trim().to_owned())))
        .collect();
    let marked: BTreeSet<(usize, String)> = old
        .iter()
        .filter(|(_, rule, _)| expected.iter().any(|(_, r)| r == rule))
        .map(|(line, rule, _)| (*line, rule.clone()))
        .collect();
    assert_eq!(marked, expected, "{old:#?}");
    assert!(
        old.iter()
            .any(|(_, rule, confirmed)| rule == "reentrancy-eth" && *confirmed),
        "{old:#?}"
    );
    let (_, current) = run(&source
        .replace("pragma solidity 0.4.9;", "pragma solidity 0.4.24;")
        .replace("function Owned()", "constructor()"));
    assert_eq!(old, current, "0.4.9 (left) and 0.4.24 (right) differ");
}

#[test]
fn arbitrary_storage_writes_through_an_arrays_length() {
    let source = r#"pragma solidity ^0.4.24;
contract Registry {
    address owner;
    uint[] slots;
    uint[] queue;
    uint[] history;
    uint[] settings;
    constructor() public { owner = msg.sender; }
    function grow(uint key, uint value) public {
        if (slots.length <= key) slots.length = key + 1;
        slots[key] = value; //~ arbitrary-storage-write
    }
    function pop() public {
        require(0 <= queue.length); //~ arbitrary-storage-write
        queue.length--;
    }
    function setAt(uint i, uint v) public {
        require(i < queue.length);
        queue[i] = v;
    }
    function shorten(uint n) public {
        history.length -= n; //~ arbitrary-storage-write
    }
    function edit(uint i, uint v) public {
        history[i] = v;
    }
    // Checked before shortening, sized only by its owner, or written at the contract's own
    // index: a long array nobody can write at will.
    function popChecked() public {
        require(settings.length > 0);
        settings.length--;
    }
    function resize(uint n) public {
        require(msg.sender == owner);
        settings.length = n;
    }
    function write(uint i, uint v) public {
        settings[i] = v;
    }
    function append(uint v) public {
        slots.push(v);
        queue[queue.length - 1] = v;
    }
}
"#;
    expect("arbitrary-storage-write", source);
}

/// Run in revm: a stranger's write through an array they lengthened lands on the owner's slot.
#[test]
fn runs_in_revm_confirm_a_write_to_another_variables_slot() {
    let grown = r#"pragma solidity ^0.4.24;
contract Map {
    address public owner = msg.sender;
    uint256[] map;
    function set(uint256 key, uint256 value) public {
        if (map.length <= key) map.length = key + 1;
        map[key] = value;
    }
}
"#;
    assert_eq!(confirmed("arbitrary-storage-write", grown), vec![(7, true)]);
    let shortened = r#"pragma solidity ^0.4.25;
contract Wallet {
    address owner = msg.sender;
    uint[] codes;
    function pop() public {
        require(0 <= codes.length);
        codes.length--;
    }
    function update(uint i, uint c) public {
        require(i < codes.length);
        codes[i] = c;
    }
}
"#;
    assert_eq!(
        confirmed("arbitrary-storage-write", shortened),
        vec![(6, true)]
    );
}

/// The Parity multisig shape: owners kept as a caller-keyed index behind a modifier (through a
/// helper and a local), set by an initializer anyone can call — which also voids the guard on
/// `kill`. Writing one's own balance entry, checked in a modifier the same way, is not taking
/// anyone's authority.
#[test]
fn unprotected_initializers_and_guards_anyone_can_pass() {
    let source = r#"pragma solidity ^0.4.24;
contract WalletLibrary {
    mapping(uint => uint) ownerIndex;
    uint owners;
    modifier onlyowner { if (isOwner(msg.sender)) _; }
    modifier confirmed {
        uint index = ownerIndex[uint(msg.sender)];
        if (index == 0) return;
        _;
    }
    function isOwner(address a) internal view returns (bool) { return ownerIndex[uint(a)] > 0; }
    function initOwners(address[] list) internal {
        for (uint i = 0; i < list.length; i++) { ownerIndex[uint(list[i])] = i + 1; }
        owners = list.length;
    }
    function initWallet(address[] list) public { //~ unprotected-authority-change
        initOwners(list);
    }
    function addOwner(address o) public onlyowner { ownerIndex[uint(o)] = ++owners; }
    function removeOwner(address o) public confirmed { ownerIndex[uint(o)] = 0; }
    function kill(address to) public confirmed { //~ unprotected-selfdestruct
        selfdestruct(to);
    }
}
contract Club {
    mapping(address => uint) dues;
    address treasurer;
    modifier member { require(dues[msg.sender] > 0); _; }
    constructor() public { treasurer = msg.sender; }
    function join() public payable { dues[msg.sender] += msg.value; }
    function vote() public member {}
    function close() public {
        require(msg.sender == treasurer);
        selfdestruct(treasurer);
    }
}
"#;
    expect("unprotected-authority-change", source);
    expect("unprotected-selfdestruct", source);
    // Run: the stranger calls the initializer with themselves as owner, then `kill`.
    assert_eq!(
        confirmed("unprotected-selfdestruct", source),
        vec![(21, true)]
    );
}

/// The 2018 batch-transfer overflow: `receivers.length * value` checked against the sender's
/// balance wraps to zero for two receivers and 2^255, and each receiver is credited 2^255.
/// Confirmed by running it; the same token with the product checked (SafeMath's `mul`) is not
/// reported, and one whose batch transfer only its owner may call is reported but not confirmed.
/// Likewise a sale that checks the ether sent against `tokens * PRICE`: 2^255 tokens for nothing.
#[test]
fn runs_in_revm_confirm_a_batch_transfer_whose_total_wraps() {
    let source = r#"pragma solidity ^0.4.24;
library SafeMath {
    function mul(uint256 a, uint256 b) internal pure returns (uint256) {
        if (a == 0) { return 0; }
        uint256 c = a * b;
        assert(c / a == b);
        return c;
    }
    function sub(uint256 a, uint256 b) internal pure returns (uint256) {
        assert(b <= a);
        return a - b;
    }
    function add(uint256 a, uint256 b) internal pure returns (uint256) {
        uint256 c = a + b;
        assert(c >= a);
        return c;
    }
}
contract Token {
    using SafeMath for uint256;
    address owner;
    mapping(address => uint256) balances;
    constructor() public { owner = msg.sender; balances[msg.sender] = 1000; }
    function batchTransfer(address[] _receivers, uint256 _value) public returns (bool) {
        uint cnt = _receivers.length;
        uint256 amount = uint256(cnt) * _value;
        require(cnt > 0 && cnt <= 20);
        require(_value > 0 && balances[msg.sender] >= amount);
        balances[msg.sender] = balances[msg.sender].sub(amount);
        for (uint i = 0; i < cnt; i++) {
            balances[_receivers[i]] = balances[_receivers[i]].add(_value);
        }
        return true;
    }
}
"#;
    assert_confirmed_as(
        "integer-overflow",
        source,
        "with 2^255 and two entries in each list, it went through",
    );
    let checked = source.replace("uint256(cnt) * _value", "_value.mul(uint256(cnt))");
    assert!(
        report(&checked)
            .findings
            .iter()
            .all(|f| f.rule != "integer-overflow"),
        "the product is checked"
    );
    let owners_only = source.replace(
        "returns (bool) {\n        uint cnt",
        "returns (bool) {\n        require(msg.sender == owner);\n        uint cnt",
    );
    assert!(owners_only != source);
    let findings = report(&owners_only).findings;
    let overflow = findings.iter().find(|f| f.rule == "integer-overflow");
    assert!(
        overflow.is_none_or(|f| !f.confirmed),
        "a stranger cannot call it: {overflow:?}"
    );
    let sale = r#"pragma solidity ^0.4.21;
contract Sale {
    mapping(address => uint256) public balanceOf;
    uint256 constant PRICE_PER_TOKEN = 1 ether;
    function buy(uint256 numTokens) public payable {
        require(msg.value == numTokens * PRICE_PER_TOKEN);
        balanceOf[msg.sender] += numTokens;
    }
}
"#;
    assert_confirmed_as(
        "integer-overflow",
        sale,
        "called by an unrelated account with 2^255, it went through",
    );
    // An odd price: 2^255 times it does not wrap to zero, and nothing is confirmed for it.
    let odd = sale.replace("= 1 ether;", "= 1 ether + 1;");
    let findings = report(&odd).findings;
    let product = findings
        .iter()
        .find(|f| f.rule == "integer-overflow" && f.message.contains('*'));
    assert!(
        product.is_some_and(|f| !f.confirmed),
        "reported, not confirmed: {findings:?}"
    );
}

/// The attack's set-ups: a bank whose every deposit and payout calls a log contract that the
/// deployer sets after creation (reverting while unset) is drained once the deployer has pointed
/// it at the file's log; a payout guarded by an owner that an unprotected `init()` lets anyone
/// become is drained by an attacker that calls `init()` first. With the log left unsettable, or
/// `init()` guarded, nothing is confirmed.
#[test]
fn runs_in_revm_confirm_a_reentrancy_after_the_set_up_it_needs() {
    let logged = r#"pragma solidity ^0.4.19;
contract Bank {
    mapping (address => uint) public balances;
    Log TransferLog;
    bool ready;
    function SetLog(address _log) public {
        if (ready) throw;
        TransferLog = Log(_log);
    }
    function Deposit() public payable {
        balances[msg.sender] += msg.value;
        TransferLog.AddMessage(msg.sender, msg.value, "Deposit");
    }
    function CashOut(uint _am) public {
        if (_am <= balances[msg.sender]) {
            if (msg.sender.call.value(_am)()) {
                balances[msg.sender] -= _am;
                TransferLog.AddMessage(msg.sender, _am, "CashOut");
            }
        }
    }
}
contract Log {
    uint public count;
    function AddMessage(address _adr, uint _val, string _data) public {
        count += 1;
    }
}
"#;
    assert_confirmed_as(
        "reentrancy-eth",
        logged,
        "deposited 1 ether re-entered it and left with 3 ether",
    );
    let unset = logged.replace(
        "function SetLog(address _log) public {",
        "function SetLog(address _log) internal {",
    );
    let findings = report(&unset).findings;
    let finding = findings.iter().find(|f| f.rule == "reentrancy-eth");
    assert!(
        finding.is_some_and(|f| !f.confirmed),
        "a log nobody can set leaves every deposit reverting: {findings:?}"
    );

    let owned = r#"pragma solidity ^0.4.24;
contract Bank {
    address owner;
    mapping (address => uint) public holders;
    function init() public { owner = msg.sender; }
    function deposit() public payable { holders[msg.sender] += msg.value; }
    function withdrawTo(address to, uint amount) public {
        require(msg.sender == owner);
        if (holders[to] >= amount) {
            if (to.call.value(amount)()) {
                holders[to] -= amount;
            }
        }
    }
}
"#;
    assert_confirmed_as(
        "reentrancy-eth",
        owned,
        "an attacker contract that called `init()` and deposited 1 ether re-entered it",
    );
    let guarded = owned.replace(
        "function init() public { owner = msg.sender; }",
        "constructor() public { owner = msg.sender; }",
    );
    let findings = report(&guarded).findings;
    assert!(
        findings
            .iter()
            .filter(|f| f.rule == "reentrancy-eth")
            .all(|f| !f.confirmed),
        "only the deployer may pay out: {findings:?}"
    );
}

/// An unprotected withdrawal shown by running it: after another account deposits, a stranger that
/// deposited one ether calls twice and leaves with more than it had — a credit paid and never
/// reduced, a bound checked the wrong way round, no bound at all. Not confirmed where every call
/// is refused: the same wallet, closed.
#[test]
fn runs_in_revm_confirm_a_withdrawal_that_pays_a_stranger_more_than_it_put_in() {
    let source = r#"pragma solidity ^0.4.24;
contract Wallet {
    address owner;
    mapping(address => uint256) balances;
    constructor() public { owner = msg.sender; }
    function deposit() public payable {
        balances[msg.sender] += msg.value;
    }
    function refund() public {
        msg.sender.transfer(balances[msg.sender]);
    }
    function withdrawConfused(uint256 amount) public {
        require(amount >= balances[msg.sender]);
        msg.sender.transfer(amount);
        balances[msg.sender] -= amount;
    }
    function withdrawUnchecked(uint256 amount) public {
        msg.sender.transfer(amount);
    }
    function drain() public {
        msg.sender.transfer(this.balance);
    }
}
"#;
    let runs = confirmed("unprotected-withdrawal", source);
    assert_eq!(runs.len(), 4, "{runs:?}");
    assert!(
        runs.iter().all(|(_, c)| *c),
        "every one pays the stranger: {runs:?}"
    );
    assert_confirmed_as(
        "unprotected-withdrawal",
        source,
        "an unrelated account that deposited 1 ether called it twice and left with 1 ether more",
    );
    // Reported alike, but every call is refused while the wallet is closed (only its owner,
    // whom the run does not play, can open it).
    let closed = source
        .replace(
            "address owner;",
            "address owner;\n    bool open;\n    function setOpen(bool value) public {\n        require(msg.sender == owner);\n        open = value;\n    }",
        )
        .replace(
            "public {\n        msg.sender.transfer",
            "public {\n        require(open);\n        msg.sender.transfer",
        )
        .replace(
            "public {\n        require(amount",
            "public {\n        require(open);\n        require(amount",
        );
    // (`drain` with a check before it is no longer reported.)
    assert_reported_unconfirmed("unprotected-withdrawal", &closed, 3);
}

/// A delegatecall to an address the caller chooses, shown by running it: code the stranger picked
/// (it stores its caller) writes the contract's own storage, so the stranger's address lands in
/// the owner's slot. Not confirmed where the target is fixed and only the data is chosen (the
/// library is not deployed in the run), nor where the forwarder refuses every call.
#[test]
fn runs_in_revm_confirm_a_delegatecall_to_code_the_caller_chose() {
    let source = r#"pragma solidity ^0.4.24;
contract Proxy {
    address owner;
    address lib;
    constructor() public { owner = msg.sender; }
    function forward(address callee, bytes _data) public {
        require(callee.delegatecall(_data));
    }
    function() public {
        require(lib.delegatecall(msg.data));
    }
}
"#;
    let runs = confirmed("controlled-delegatecall", source);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[0].1, "forward runs the stranger's code: {runs:?}");
    assert!(!runs[1].1, "the fallback's library is fixed: {runs:?}");
    assert_confirmed_as(
        "controlled-delegatecall",
        source,
        "the contract's own storage then held that account's address",
    );
    // Reported alike, but refused while closed (it never opens).
    let closed = source
        .replace("address lib;", "address lib;\n    bool open;")
        .replace(
            "public {\n        require(callee",
            "public {\n        require(open);\n        require(callee",
        );
    assert_reported_unconfirmed("controlled-delegatecall", &closed, 2);
}

/// Authorization by `tx.origin`, shown by running it: refused to a stranger calling directly, the
/// same call goes through when the owner calls a contract the stranger wrote, and the wallet's
/// ether goes to the stranger. Not confirmed where the check reads `msg.sender` (the owner's
/// call through the stranger's contract is refused too), which is not reported at all, nor
/// where the stranger's direct call already goes through (the check is not what guards it).
#[test]
fn runs_in_revm_confirm_an_owner_lured_into_calling_the_attackers_contract() {
    let source = r#"pragma solidity ^0.4.24;
contract Wallet {
    address owner;
    bool open = true;
    constructor() public { owner = msg.sender; }
    function () public payable {}
    function withdrawAll(address _recipient) public {
        require(tx.origin == owner);
        _recipient.transfer(address(this).balance);
    }
    function withdrawWhenOpen(address _recipient) public {
        require(tx.origin == owner || open);
        _recipient.transfer(address(this).balance);
    }
}
"#;
    let runs = confirmed("tx-origin", source);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs[0].1,
        "the owner's call through the stranger's contract pays: {runs:?}"
    );
    assert!(!runs[1].1, "anyone may call it while open: {runs:?}");
    assert_confirmed_as(
        "tx-origin",
        source,
        "it went through when the owner called a contract that account wrote, which called it and paid that account 1 ether",
    );
    let by_sender = source.replace("tx.origin == owner", "msg.sender == owner");
    assert!(confirmed("tx-origin", &by_sender).is_empty());
}

/// A requested amount is bounded from above when subtracting it from state reverts on a larger
/// one: SafeMath's `sub` (bound with `using for`, or called on the library), or 0.8's checked
/// `x = x - amount`. A `sub` that checks nothing, or one that subtracts from a parameter rather
/// than from state, bounds nothing.
#[test]
fn a_withdrawal_bounded_by_a_checked_subtraction_is_not_reported() {
    expect(
        "unprotected-withdrawal",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.6.12;
library SafeMath {
    function sub(uint256 a, uint256 b) internal pure returns (uint256) { require(b <= a, "sub"); return a - b; }
}
library LooseMath {
    function less(uint256 a, uint256 b) internal pure returns (uint256) { return a - b; }
}
library OldMath {
    function minus(uint256 a, uint256 b) internal pure returns (uint256) { if (b > a) revert(); return a - b; }
}
contract Shares {
    using SafeMath for uint256;
    using LooseMath for uint256;
    mapping(address => uint256) balanceOf;
    mapping(address => uint256) points;
    function redeem(uint256 v) external {
        balanceOf[msg.sender] = balanceOf[msg.sender].sub(v);
        msg.sender.transfer(v);
    }
    function redeemByLibrary(uint256 v) external {
        balanceOf[msg.sender] = SafeMath.sub(balanceOf[msg.sender], v);
        msg.sender.transfer(v);
    }
    function redeemOld(uint256 v) external {
        balanceOf[msg.sender] = OldMath.minus(balanceOf[msg.sender], v);
        msg.sender.transfer(v);
    }
    function redeemLoose(uint256 v) external {
        points[msg.sender] = points[msg.sender].less(v);
        msg.sender.transfer(v); //~ unprotected-withdrawal
    }
    function redeemFromArgument(uint256 v, uint256 cap) external {
        uint256 left = cap.sub(v);
        balanceOf[msg.sender] = left;
        msg.sender.transfer(v); //~ unprotected-withdrawal
    }
}
"#,
    );
    expect(
        "unprotected-withdrawal",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Vault {
    mapping(address => uint256) balances;
    function withdraw(uint256 amount) external {
        balances[msg.sender] = balances[msg.sender] - amount;
        payable(msg.sender).transfer(amount);
    }
    function withdrawAdded(uint256 amount) external {
        balances[msg.sender] = balances[msg.sender] + amount;
        payable(msg.sender).transfer(amount); //~ unprotected-withdrawal
    }
}
"#,
    );
}

/// A list only one fixed account can add to (`require(msg.sender == issuer)`, a literal address,
/// `if (msg.sender != owner) revert()`) grows as that account decides: looping over it is not
/// reported. A list behind a flag the caller sets themselves, or behind a check that lets
/// everyone but the owner through, is every caller's. A refund loop in an owner-only function
/// is still held up by one refusing recipient.
#[test]
fn a_list_only_one_account_grows_is_not_every_callers() {
    let source = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Registry {
    address issuer = msg.sender;
    address[] holders;
    address[] partners;
    address[] members;
    address[] guests;
    address[] backers;
    mapping(address => bool) joined;
    mapping(address => uint256) paid;
    modifier onlyIssuer() { if (msg.sender != issuer) revert("issuer"); _; }
    function addHolder(address a) external {
        require(msg.sender == issuer, "issuer");
        holders.push(a);
    }
    function addPartner(address a) external {
        require(msg.sender == address(0x1234), "fixed");
        partners.push(a);
    }
    function addMember(address a) external onlyIssuer {
        members.push(a);
    }
    function join() external {
        require(!joined[msg.sender], "twice");
        joined[msg.sender] = true;
        guests.push(msg.sender);
    }
    function back() external payable {
        require(msg.sender != issuer, "not the issuer");
        backers.push(msg.sender);
        paid[msg.sender] += msg.value;
    }
    function countHolders() external view returns (uint256 n) {
        for (uint256 i = 0; i < holders.length; i++) n++;
        for (uint256 i = 0; i < partners.length; i++) n++;
        for (uint256 i = 0; i < members.length; i++) n++;
    }
    function countGuests() external view returns (uint256 n) {
        for (uint256 i = 0; i < guests.length; i++) n++; //~ dos-unbounded-loop
    }
    function refundAll() external onlyIssuer {
        for (uint256 i = 0; i < backers.length; i++) { //~ dos-unbounded-loop
            require(payable(backers[i]).send(paid[backers[i]]), "refund"); //~ dos-failed-payment
        }
    }
}
"#;
    expect("dos-unbounded-loop", source);
    expect("dos-failed-payment", source);
}

/// A state variable a `delegatecall` runs the code of (in Solidity, or in a proxy's assembly
/// through a local) decides what runs on the contract's storage: a function anyone can call
/// that writes it is reported like an owner change; the same function behind the admin check
/// is not.
#[test]
fn writing_a_delegatecall_target_is_an_authority_change() {
    expect(
        "unprotected-authority-change",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract AssemblyProxy {
    address implementation;
    address admin;
    constructor(address impl) { implementation = impl; admin = msg.sender; }
    function upgradeTo(address impl) external { //~ unprotected-authority-change
        implementation = impl;
    }
    fallback() external payable {
        address impl = implementation;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let result := delegatecall(gas(), impl, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch result
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}
contract GuardedProxy {
    address implementation;
    address admin;
    constructor(address impl) { implementation = impl; admin = msg.sender; }
    function upgradeTo(address impl) external {
        require(msg.sender == admin, "admin");
        implementation = impl;
    }
    fallback() external payable {
        (bool ok, ) = implementation.delegatecall(msg.data);
        require(ok);
    }
}
contract OpenProxy {
    address library_;
    function setLibrary(address l) external { //~ unprotected-authority-change
        library_ = l;
    }
    function run(bytes calldata data) external {
        (bool ok, ) = library_.delegatecall(data);
        require(ok);
    }
}
"#,
    );
}

/// A variable an owner-only function sets, set by a function anyone can call to a value the
/// caller names or a fixed one (`pause()` beside the owner's `unpause()`, a fee setter without
/// the modifier): the owner's check is missing there. Not reported: the owner's own setters, a
/// step of the contract's state machine (the write behind a condition on its state or the
/// block), a lock set and reset in one function, and what the contract records (`last =
/// msg.sender`, `at = block.timestamp`).
#[test]
fn a_setting_its_owner_controls_set_by_anyone() {
    expect(
        "unprotected-setting",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Exchange {
    address owner = msg.sender;
    bool paused;
    uint256 feeBps;
    uint256 start;
    bool busy;
    address last;
    uint256 at;
    modifier onlyOwner() { require(msg.sender == owner, "owner"); _; }
    function unpause() external onlyOwner { paused = false; }
    function pause() external { //~ unprotected-setting
        paused = true;
    }
    function setFee(uint256 bps) external onlyOwner { feeBps = bps; }
    function updateFee(uint256 bps) external { //~ unprotected-setting
        require(bps <= 1000, "at most 10%");
        feeBps = bps;
    }
    function setStart(uint256 s) external onlyOwner { start = s; busy = false; last = address(0); at = 0; }
    function close() external {
        if (start > 0 && block.number >= start + 1000) {
            start = 0;
        }
    }
    function restart(uint256 s) external {
        require(start == 0, "running");
        start = s;
    }
    function work() external {
        busy = true;
        (bool ok, ) = msg.sender.call("");
        require(ok);
        busy = false;
    }
    function touch() external {
        last = msg.sender;
        at = block.timestamp;
    }
}
"#,
    );
}

/// A variable the contract pays its funds to (ether or a token transfer), set by a function
/// anyone can call to an address the caller names: anyone redirects the payments. Behind the
/// owner's check, or set to the caller by a payable bid, it is not reported.
#[test]
fn a_payee_anyone_can_redirect() {
    expect(
        "unprotected-authority-change",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
interface IERC20 { function transfer(address to, uint256 v) external returns (bool); }
contract Fees {
    IERC20 token;
    address owner = msg.sender;
    address feeRecipient;
    address payable treasury;
    address leader;
    uint256 best;
    constructor(IERC20 t) { token = t; feeRecipient = msg.sender; treasury = payable(msg.sender); }
    function setFeeRecipient(address r) external { //~ unprotected-authority-change
        feeRecipient = r;
    }
    function setTreasury(address payable t) external {
        require(msg.sender == owner, "owner");
        treasury = t;
    }
    function collect(uint256 fee) external {
        require(token.transfer(feeRecipient, fee), "fee");
    }
    function sweep() external {
        treasury.transfer(address(this).balance);
    }
    function bid() external payable {
        require(msg.value > best, "low");
        payable(leader).transfer(best);
        leader = msg.sender;
        best = msg.value;
    }
}
"#,
    );
}

/// An owner's setting changed by a stranger, shown by running it: `pause()` goes through for an
/// unrelated account and changes the contract's storage. A setter whose value is already what
/// the stranger would set changes nothing and stays unconfirmed.
#[test]
fn runs_in_revm_confirm_a_setting_a_stranger_changes() {
    let source = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Switch {
    address owner = msg.sender;
    bool paused;
    bool open;
    modifier onlyOwner() { require(msg.sender == owner, "owner"); _; }
    function unpause() external onlyOwner { paused = false; }
    function close() external onlyOwner { open = false; }
    function pause() external {
        paused = true;
    }
    function shut() external {
        open = false;
    }
}
"#;
    let runs = confirmed("unprotected-setting", source);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs[0].1,
        "pause changes the stranger's view of the contract: {runs:?}"
    );
    assert!(!runs[1].1, "shut writes the value already there: {runs:?}");
    assert_confirmed_as(
        "unprotected-setting",
        source,
        "it went through and changed the contract's storage",
    );
}

/// A stored value the function first requires to stay under a number, added to or multiplied
/// by a narrow operand, cannot reach 2^256: `x += v` after `require(x < 1e30)` with `v` a
/// `uint8`, or `require(n <= 1000 && …)` before `n * price` with a `uint128` price. Without the
/// limit, with a limit at 2^255 (the sum can still carry into bit 256), or with a wide operand,
/// it is reported.
#[test]
fn overflow_not_reported_under_a_limit_checked_first() {
    expect(
        "integer-overflow",
        r#"pragma solidity ^0.7.0;
contract Rewards {
    mapping(address => uint256) reward;
    uint128 price;
    uint256 constant CAP = 1000 ether;
    function addSmall(uint8 v) external {
        require(reward[msg.sender] < 1e30, "cap");
        reward[msg.sender] += v;
    }
    function addUnderCap(uint16 v) external {
        require(CAP > reward[msg.sender]);
        reward[msg.sender] += v;
    }
    uint256 total;
    function cost(uint256 n) external {
        require(n <= 1000 && n > 0, "count");
        total = n * price;
    }
    function addUnbounded(uint8 v) external {
        reward[msg.sender] += v; //~ integer-overflow
    }
    function addWide(uint256 v) external {
        require(reward[msg.sender] < 1e30, "cap");
        reward[msg.sender] += v; //~ integer-overflow
    }
    function addNearTop(uint8 v) external {
        require(reward[msg.sender] < 0x8000000000000000000000000000000000000000000000000000000000000000);
        reward[msg.sender] += v; //~ integer-overflow
    }
}
"#,
    );
}

/// What an owner-only function does — adding to the supply, calling the internal mint — done by
/// a function anyone can call with values the caller names: a mint anyone can use. Not
/// reported: a function that acts on the caller's own entries (`transfer`), sells what it gives
/// (`msg.value`), verifies a signature instead, or carries a modifier of its own; nor what only
/// functions checking the caller's own balance do.
#[test]
fn what_only_the_owner_does_done_by_anyone() {
    expect(
        "unprotected-owner-action",
        r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Token {
    address owner = msg.sender;
    uint256 totalSupply;
    bool paused;
    mapping(address => uint256) balanceOf;
    mapping(address => uint256) nonces;
    modifier onlyOwner() { _checkOwner(); _; }
    modifier whenNotPaused() { require(!paused, "paused"); _; }
    function _checkOwner() internal view { require(msg.sender == owner, "owner"); }
    function _mint(address to, uint256 amount) internal {
        totalSupply += amount;
        balanceOf[to] += amount;
    }
    function ownerMint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
    function ownerCredit(address to, uint256 amount) external {
        require(msg.sender == owner, "owner");
        balanceOf[to] += amount;
    }
    function mint(address to, uint256 amount) external { //~ unprotected-owner-action
        _mint(to, amount);
    }
    function credit(address to, uint256 amount) external { //~ unprotected-owner-action
        balanceOf[to] += amount;
    }
    function transfer(address to, uint256 amount) external {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }
    function buy(address to) external payable {
        _mint(to, msg.value * 100);
    }
    function mintSigned(address to, uint256 amount, uint8 v, bytes32 r, bytes32 s) external {
        bytes32 digest = keccak256(abi.encode(to, amount, nonces[to]++));
        require(ecrecover(digest, v, r, s) == owner, "signature");
        _mint(to, amount);
    }
    function mintWhenOpen(address to, uint256 amount) external whenNotPaused {
        _mint(to, amount);
    }
}
contract Points {
    mapping(address => uint256) points;
    function earn(uint256 n) external {
        require(points[msg.sender] < 1000, "cap");
        points[msg.sender] += n;
    }
    function grant(address to, uint256 n) external {
        points[to] += n;
    }
}
"#,
    );
}

#[test]
fn a_helpers_result_carries_only_what_that_call_passed() {
    // `mul` is called with the caller's amount in `pay` and with stored reserves in `update`:
    // the product in `update` is not the caller's, so `half`'s sum (reached only from there) is
    // not an overflow the caller can cause. `grow` passes the caller's amount to `half` itself.
    let shared = r#"pragma solidity 0.5.16;
library M {
    function mul(uint a, uint b) internal pure returns (uint c) {
        c = a * b;
        require(a == 0 || c / a == b);
    }
    function half(uint y) internal pure returns (uint) {
        return (y / 3 + y) / 2; MARK
    }
}
contract Pool {
    using M for uint;
    uint public reserve = 10;
    uint public k;
    uint public paid;
    function pay(uint amount) external { paid = amount.mul(2); }
    function update() external { k = M.half(reserve.mul(reserve)); }
"#;
    expect_reported_only_with(
        "integer-overflow",
        shared,
        "    function grow(uint amount) external { k = M.half(amount.mul(3)); }",
    );
}

#[test]
fn a_call_result_checked_in_assembly_is_checked() {
    expect(
        "unchecked-call",
        r#"pragma solidity ^0.8.0;
contract Forwarder {
    address public implementation;
    function forward(bytes memory data) public returns (bytes memory) {
        (bool success, bytes memory returned) = implementation.delegatecall(data);
        assembly {
            if eq(success, 0) { revert(add(returned, 0x20), returndatasize()) }
        }
        return returned;
    }
    function forwardBlindly(bytes memory data) public {
        (bool success, bytes memory returned) = implementation.delegatecall(data); //~ unchecked-call
        assembly { pop(mload(returned)) }
    }
}
"#,
    );
}

#[test]
fn a_proxy_runs_the_callers_data_on_the_implementation_its_admin_chose() {
    // Compound's delegator: the admin sets `implementation`; the fallback and a public helper
    // forward the caller's data to it, through an internal `delegateTo` the constructor also
    // calls with the deployer's argument. A library fixed at deployment whose every function the
    // caller can run (Parity's wallet) and a target from the caller stay reported. Forwarding
    // the caller's data is not an action only the admin may take, though the admin's upgrade
    // calls the same helper.
    let source = r#"pragma solidity ^0.8.0;
contract Delegator {
    address public admin;
    address public implementation;
    address public immutable library_;
    constructor(address implementation_, address lib) {
        admin = msg.sender;
        library_ = lib;
        delegateTo(implementation_, abi.encodeWithSignature("initialize()"));
        implementation = implementation_;
    }
    function setImplementation(address implementation_) public {
        require(msg.sender == admin, "admin only");
        implementation = implementation_;
        delegateTo(implementation_, abi.encodeWithSignature("become()"));
    }
    function delegateTo(address callee, bytes memory data) internal returns (bytes memory) {
        (bool success, bytes memory returned) = callee.delegatecall(data);
        require(success);
        return returned;
    }
    function delegateToImplementation(bytes memory data) public returns (bytes memory) {
        return delegateTo(implementation, data);
    }
    function runLibrary(bytes memory data) public {
        (bool ok, ) = library_.delegatecall(data); //~ controlled-delegatecall
        require(ok);
    }
    function runAnything(address target, bytes memory data) public {
        (bool ok, ) = target.delegatecall(data); //~ controlled-delegatecall
        require(ok);
    }
    fallback() external payable {
        (bool success, ) = implementation.delegatecall(msg.data);
        require(success);
    }
}
"#;
    expect("controlled-delegatecall", source);
    expect("unprotected-owner-action", source);
}

#[test]
fn a_delegatecall_is_not_a_callback_into_the_contract() {
    // The admin's upgrade calls into the new implementation before it records the old one:
    // that code runs as this contract and cannot call back as a stranger would. A plain call
    // before the same write is reported.
    let source = r#"pragma solidity ^0.8.0;
contract Upgradable {
    address public admin;
    address public implementation;
    address public previous;
    constructor() { admin = msg.sender; }
    function upgrade(address next) public {
        require(msg.sender == admin, "admin only");
        (bool ok, ) = implementation.delegatecall(abi.encodeWithSignature("resign()"));
        require(ok);
        previous = implementation;
        implementation = next;
    }
    function notify(address next) public {
        require(msg.sender == admin, "admin only");
        (bool ok, ) = implementation.call(abi.encodeWithSignature("resign()")); //~ reentrancy-no-eth
        require(ok);
        previous = implementation;
        implementation = next;
    }
}
"#;
    expect("reentrancy-no-eth", source);
}

#[test]
fn a_sum_that_undoes_a_subtraction_is_what_was_there() {
    // `tab = tab - owe` then `tab + owe`: the old `tab`, which fitted. Once `owe` has grown in
    // between, the sum is new.
    expect(
        "integer-overflow",
        r#"pragma solidity 0.6.12;
contract Auction {
    mapping(uint => uint) public tabs;
    uint public dug;
    function take(uint id, uint owe) external {
        uint tab = tabs[id];
        require(owe <= tab, "too much");
        tab = tab - owe;
        tabs[id] = tab;
        dug = tab + owe;
    }
    function takeAgain(uint id, uint owe) external {
        uint tab = tabs[id];
        require(owe <= tab, "too much");
        tab -= owe;
        tabs[id] = tab;
        dug = owe + tab;
    }
    function takeMore(uint id, uint owe, uint times) external {
        uint tab = tabs[id];
        require(owe <= tab, "too much");
        tab = tab - owe;
        owe = owe * times; //~ integer-overflow
        dug = tab + owe; //~ integer-overflow
    }
}
"#,
    );
}

#[test]
fn another_contracts_answer_is_not_the_callers_value() {
    // The answer of a contract declared by its interface (named results) is that contract's,
    // whatever key the caller picked; only `grow` passes the caller's own number to `diff`.
    let shared = r#"pragma solidity 0.6.12;
interface Vat {
    function ilks(bytes32 ilk) external returns (uint256 art, uint256 rate);
}
contract Jug {
    Vat public vat;
    int public last;
    function diff(uint x, uint y) internal pure returns (int z) {
        z = int(x) - int(y); MARK
    }
    function drip(bytes32 ilk) external {
        (, uint rate) = vat.ilks(ilk);
        last = diff(rate, 7);
    }
"#;
    expect_reported_only_with(
        "integer-overflow",
        shared,
        "    function grow(uint given) external { last = diff(given, 7); }",
    );
}

#[test]
fn weight_bought_at_the_contracts_price_is_not_taken() {
    // A token sale credits what was paid, to whoever the buyer names: voting weight bought,
    // not an authority change. Weight handed out for nothing is.
    expect(
        "unprotected-authority-change",
        r#"pragma solidity ^0.4.24;
contract Club {
    mapping(address => uint) public weight;
    uint public proposals;
    modifier onlyHolders {
        if (balanceOf(msg.sender) == 0) revert();
        _;
    }
    function balanceOf(address a) public view returns (uint) {
        return weight[a];
    }
    function propose() public onlyHolders {
        proposals += 1;
    }
    function buyFor(address holder) public payable {
        weight[holder] += msg.value;
    }
    function buyAtPrice(address holder) public payable {
        weight[holder] = weight[holder] + msg.value * 20;
    }
    function grant(address holder) public { //~ unprotected-authority-change
        weight[holder] = 1;
    }
}
"#,
    );
}

#[test]
fn a_modifier_given_the_caller_protects_and_the_contract_itself_is_one_account() {
    // Gnosis' multisig: `ownerExists(msg.sender)` checks the caller through the modifier's
    // parameter; `ownerExists(who)` checks someone the caller names. `onlyWallet` lets only the
    // wallet's own executed transactions in, so its owner list is not every caller's to grow.
    // A list's indices from a floor the loop starts at, with the index declared before it,
    // stay above the floor; a length that wraps is still a wrong answer.
    let source = r#"pragma solidity ^0.4.24;
contract Wallet {
    mapping(uint => mapping(address => bool)) public confirmations;
    mapping(address => bool) public isOwner;
    address[] public owners;
    uint public count;
    modifier onlyWallet() { require(msg.sender == address(this)); _; }
    modifier ownerExists(address owner) { require(isOwner[owner]); _; }
    constructor(address[] _owners) public {
        for (uint i = 0; i < _owners.length; i++) isOwner[_owners[i]] = true;
        owners = _owners;
    }
    function addOwner(address owner) public onlyWallet {
        isOwner[owner] = true;
        owners.push(owner);
    }
    function removeOwner(address owner) public onlyWallet {
        isOwner[owner] = false;
        for (uint i = 0; i < owners.length - 1; i++)
            if (owners[i] == owner) { owners[i] = owners[owners.length - 1]; break; }
        owners.length -= 1;
    }
    function confirm(uint id) public ownerExists(msg.sender) {
        confirmations[id][msg.sender] = true;
    }
    function confirmFor(uint id, address who) public ownerExists(who) { //~ unprotected-authority-change
        confirmations[id][who] = true;
    }
    function execute(uint id) public ownerExists(msg.sender) {
        require(confirmations[id][msg.sender]);
        count += 1;
    }
    function ids(uint from, uint to) public view returns (uint[] out) {
        out = new uint[](to - from); //~ integer-overflow
        uint i;
        for (i = from; i < to; i++)
            out[i - from] = i;
    }
    function shift(uint from, uint to) public {
        count = to - from; //~ integer-overflow
    }
}
"#;
    expect("unprotected-authority-change", source);
    expect("dos-unbounded-loop", source);
    expect("integer-overflow", source);
}

#[test]
fn an_amount_clamped_by_a_conditional_and_a_factory_owners_setting() {
    // Uniswap v3's `collect`: the amount taken is at most what is owed, written as a
    // conditional; its `onlyFactoryOwner` compares the caller with the owner the stored factory
    // names, so the owner's values are not an attacker's. The larger of the two, or an open
    // setter, can wrap.
    expect(
        "integer-overflow",
        r#"pragma solidity 0.7.6;
interface IFactory { function owner() external view returns (address); }
contract Pool {
    address public immutable factory;
    uint128 public fees;
    mapping(address => uint128) public owed;
    constructor(address f) { factory = f; }
    modifier onlyFactoryOwner() {
        require(msg.sender == IFactory(factory).owner());
        _;
    }
    function setFees(uint128 a) external onlyFactoryOwner {
        fees += a;
    }
    function addFees(uint128 a) external {
        fees += a; //~ integer-overflow
    }
    function collect(uint128 requested) external returns (uint128 amount) {
        amount = requested > owed[msg.sender] ? owed[msg.sender] : requested;
        owed[msg.sender] -= amount;
    }
    function collectBadly(uint128 requested) external returns (uint128 amount) {
        amount = requested < owed[msg.sender] ? owed[msg.sender] : requested;
        owed[msg.sender] -= amount; //~ integer-overflow
    }
}
"#,
    );
}

#[test]
fn a_transfer_on_a_token_just_created_from_known_code_cannot_fail_silently() {
    // ConsenSys' EIP20Factory: the token was created here, so its `transfer` is the program's,
    // and it only ever returns true (it reverts on failure). A token that returns false, or one
    // the contract did not create, may fail silently.
    expect(
        "unchecked-transfer",
        r#"pragma solidity ^0.4.24;
contract Strict {
    mapping(address => uint) balances;
    constructor(uint amount) public { balances[msg.sender] = amount; }
    function transfer(address to, uint v) public returns (bool) {
        require(balances[msg.sender] >= v);
        balances[msg.sender] -= v;
        balances[to] += v;
        return true;
    }
}
contract Lenient {
    mapping(address => uint) balances;
    constructor(uint amount) public { balances[msg.sender] = amount; }
    function transfer(address to, uint v) public returns (bool) {
        if (balances[msg.sender] < v) return false;
        balances[msg.sender] -= v;
        balances[to] += v;
        return true;
    }
}
contract Factory {
    Strict public kept;
    function createStrict(uint amount) public returns (address) {
        Strict token = new Strict(amount);
        token.transfer(msg.sender, amount);
        return address(token);
    }
    function createLenient(uint amount) public returns (address) {
        Lenient token = new Lenient(amount);
        token.transfer(msg.sender, amount); //~ unchecked-transfer
        return address(token);
    }
    function payFromKept(uint amount) public {
        kept.transfer(msg.sender, amount); //~ unchecked-transfer
    }
}
"#,
    );
}

#[test]
fn a_power_by_squaring_of_the_time_passed_is_not_a_draw() {
    // Liquity's `_decPow`: the parity of the minutes passed picks a branch of exponentiation by
    // squaring, whose result is the same power either way. The parity of the time choosing a
    // winner is a draw.
    expect(
        "weak-randomness",
        r#"pragma solidity 0.6.11;
contract Fees {
    uint public rate = 1e18;
    uint public lastUpdate;
    address[2] public players;
    function decPow(uint base, uint n) internal pure returns (uint) {
        uint y = 1e18;
        uint x = base;
        while (n > 1) {
            if (n % 2 == 0) {
                x = x * x / 1e18;
                n = n / 2;
            } else {
                y = x * y / 1e18;
                x = x * x / 1e18;
                n = (n - 1) / 2;
            }
        }
        return x * y / 1e18;
    }
    function decay() external {
        uint minutesPassed = (block.timestamp - lastUpdate) / 60;
        rate = rate * decPow(999e15, minutesPassed) / 1e18;
        lastUpdate = block.timestamp;
    }
    function play() external payable {
        uint pick = block.timestamp % 2; //~ weak-randomness
        payable(players[pick]).transfer(address(this).balance);
    }
}
"#,
    );
}
