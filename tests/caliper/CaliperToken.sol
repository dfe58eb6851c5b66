// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import "../e2e/contracts/Token.sol";

/// The benchmark token for Hyperledger Caliper. Caliper deploys contracts without constructor
/// arguments and sends from per-worker accounts it derives itself, so each worker mints its own
/// starting balance with `faucet` before measuring `transfer`. For benchmarks only.
contract CaliperToken is Token {
    constructor() Token("Caliper Token", "CAL", 0) {}

    function faucet(uint256 amount) external {
        totalSupply += amount;
        balanceOf[msg.sender] += amount;
        emit Transfer(address(0), msg.sender, amount);
    }
}
