// SPDX-License-Identifier: MIT
// Checker sample (BENCHMARKS, stop 35): an asset and name registry, first come first served.
// Expected: `setAdmin` (an admin anyone can claim while it is unset) high, confirmed; `register` and
// `claimName` (claims of empty entries) silent. (Until stop 36 also a false low `timestamp`: the
// creation time stored beside the owner counted in `msg.sender == assets[id].owner`.)
pragma solidity ^0.8.20;
contract Assets {
    struct Asset { address owner; bytes32 meta; uint64 created; }
    mapping(bytes32 => Asset) public assets;
    mapping(string => address) public names;
    address public admin;
    function register(bytes32 id, bytes32 meta) external {
        require(assets[id].owner == address(0), "taken");
        assets[id] = Asset(msg.sender, meta, uint64(block.timestamp));
    }
    function claimName(string calldata name) external {
        require(names[name] == address(0), "taken");
        names[name] = msg.sender;
    }
    function transfer(bytes32 id, address to) external {
        require(msg.sender == assets[id].owner, "not yours");
        assets[id].owner = to;
    }
    function update(bytes32 id, bytes32 meta) external {
        require(msg.sender == assets[id].owner, "not yours");
        assets[id].meta = meta;
    }
    function release(string calldata name) external {
        require(names[name] == msg.sender);
        delete names[name];
    }
    function setAdmin(address a) external {
        require(admin == address(0));
        admin = a;
    }
    function pause() external { require(msg.sender == admin); }
}
