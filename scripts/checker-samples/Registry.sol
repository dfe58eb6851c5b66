// SPDX-License-Identifier: MIT
// Checker sample (BENCHMARKS, stop 35; written against OpenZeppelin 5.7.0): two UUPS contracts over OpenZeppelin Contracts Upgradeable.
// Expected: `OpenRegistry._authorizeUpgrade` (empty) reported high (controlled-delegatecall: anyone
// upgrades); `Registry` (onlyRole) silent; nothing else above low.
pragma solidity ^0.8.24;
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";

contract Registry is Initializable, UUPSUpgradeable, AccessControlUpgradeable {
    bytes32 public constant NOTARY = keccak256("NOTARY");
    struct Record { bytes32 digest; address notary; uint64 at; }
    mapping(bytes32 => Record) public records;
    event Notarized(bytes32 indexed id, bytes32 digest, address notary);
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() { _disableInitializers(); }
    function initialize(address admin) external initializer {
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }
    function notarize(bytes32 id, bytes32 digest) external onlyRole(NOTARY) {
        require(records[id].at == 0, "exists");
        records[id] = Record(digest, msg.sender, uint64(block.timestamp));
        emit Notarized(id, digest, msg.sender);
    }
    function _authorizeUpgrade(address) internal override onlyRole(DEFAULT_ADMIN_ROLE) {}
}

contract OpenRegistry is Initializable, UUPSUpgradeable, OwnableUpgradeable {
    uint256 public count;
    function initialize() external initializer { __Ownable_init(msg.sender); }
    function bump() external onlyOwner { count += 1; }
    function _authorizeUpgrade(address) internal override {}
}
