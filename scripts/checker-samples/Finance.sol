// SPDX-License-Identifier: MIT
// Checker sample (BENCHMARKS, stop 35; written against OpenZeppelin 5.7.0): receivables financing, traceability and certificates over
// OpenZeppelin (roles, SafeERC20, ReentrancyGuard, ERC-1155, ERC-721). Expected: only low `timestamp`
// findings on the day-scale maturity checks.
pragma solidity ^0.8.24;
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// Receivables financing: a supplier's invoice, confirmed by the buyer, is financed by a bank
/// and repaid by the buyer at maturity.
contract Receivables is AccessControl, ReentrancyGuard, Pausable {
    using SafeERC20 for IERC20;
    bytes32 public constant BANK = keccak256("BANK");
    bytes32 public constant AUDITOR = keccak256("AUDITOR");
    enum State { None, Issued, Confirmed, Financed, Repaid, Defaulted }
    struct Invoice { address supplier; address buyer; address bank; uint256 amount; uint256 advance; uint64 maturity; State state; }
    IERC20 public immutable cash;
    uint256 public nextId;
    uint16 public haircutBps = 500;
    mapping(uint256 => Invoice) public invoices;
    mapping(address => uint256) public exposure;
    event Issued(uint256 indexed id, address supplier, address buyer, uint256 amount);
    event Financed(uint256 indexed id, address bank, uint256 advance);
    event Repaid(uint256 indexed id, uint256 amount);
    error WrongState(State have, State want);

    constructor(IERC20 cash_, address admin) { cash = cash_; _grantRole(DEFAULT_ADMIN_ROLE, admin); }

    function setHaircut(uint16 bps) external onlyRole(DEFAULT_ADMIN_ROLE) { require(bps <= 5000, "too high"); haircutBps = bps; }
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) { _pause(); }
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) { _unpause(); }

    function issue(address buyer, uint256 amount, uint64 maturity) external whenNotPaused returns (uint256 id) {
        require(buyer != address(0) && buyer != msg.sender, "buyer");
        require(amount > 0 && maturity > block.timestamp + 1 days, "terms");
        id = nextId++;
        invoices[id] = Invoice(msg.sender, buyer, address(0), amount, 0, maturity, State.Issued);
        emit Issued(id, msg.sender, buyer, amount);
    }

    function confirm(uint256 id) external whenNotPaused {
        Invoice storage inv = invoices[id];
        if (inv.state != State.Issued) revert WrongState(inv.state, State.Issued);
        require(msg.sender == inv.buyer, "not the buyer");
        inv.state = State.Confirmed;
    }

    function finance(uint256 id) external nonReentrant whenNotPaused onlyRole(BANK) {
        Invoice storage inv = invoices[id];
        if (inv.state != State.Confirmed) revert WrongState(inv.state, State.Confirmed);
        uint256 advance = inv.amount * (10_000 - haircutBps) / 10_000;
        inv.bank = msg.sender;
        inv.advance = advance;
        inv.state = State.Financed;
        exposure[msg.sender] += advance;
        cash.safeTransferFrom(msg.sender, inv.supplier, advance);
        emit Financed(id, msg.sender, advance);
    }

    function repay(uint256 id) external nonReentrant {
        Invoice storage inv = invoices[id];
        if (inv.state != State.Financed) revert WrongState(inv.state, State.Financed);
        require(msg.sender == inv.buyer, "not the buyer");
        inv.state = State.Repaid;
        exposure[inv.bank] -= inv.advance;
        cash.safeTransferFrom(msg.sender, inv.bank, inv.amount);
        emit Repaid(id, inv.amount);
    }

    function markDefault(uint256 id) external onlyRole(AUDITOR) {
        Invoice storage inv = invoices[id];
        if (inv.state != State.Financed) revert WrongState(inv.state, State.Financed);
        require(block.timestamp > inv.maturity + 30 days, "not overdue");
        inv.state = State.Defaulted;
    }
}

/// Traceability: batches minted by producers, moved along the chain with signed hand-overs.
contract Batches is ERC1155, AccessControl {
    bytes32 public constant PRODUCER = keccak256("PRODUCER");
    mapping(uint256 => bytes32) public origin;
    mapping(address => uint256) public nonces;
    constructor(address admin) ERC1155("") { _grantRole(DEFAULT_ADMIN_ROLE, admin); }
    function produce(uint256 id, uint256 amount, bytes32 originHash) external onlyRole(PRODUCER) {
        require(origin[id] == bytes32(0), "exists");
        origin[id] = originHash;
        _mint(msg.sender, id, amount, "");
    }
    function handOver(address from, address to, uint256 id, uint256 amount, bytes calldata signature) external {
        bytes32 digest = MessageHashUtils.toEthSignedMessageHash(keccak256(abi.encode(address(this), from, to, id, amount, nonces[from])));
        require(ECDSA.recover(digest, signature) == from, "bad signature");
        nonces[from] += 1;
        _safeTransferFrom(from, to, id, amount, "");
    }
    function supportsInterface(bytes4 i) public view override(ERC1155, AccessControl) returns (bool) { return super.supportsInterface(i); }
}

/// Certificates: one NFT per certificate, issued and revoked by the issuer.
contract Certificates is ERC721, AccessControl {
    bytes32 public constant ISSUER = keccak256("ISSUER");
    mapping(uint256 => bool) public revoked;
    uint256 public next;
    constructor(address admin) ERC721("Cert", "CRT") { _grantRole(DEFAULT_ADMIN_ROLE, admin); }
    function issue(address to) external onlyRole(ISSUER) returns (uint256 id) { id = ++next; _safeMint(to, id); }
    function revoke(uint256 id) external onlyRole(ISSUER) { _requireOwned(id); revoked[id] = true; }
    function supportsInterface(bytes4 i) public view override(ERC721, AccessControl) returns (bool) { return super.supportsInterface(i); }
}
