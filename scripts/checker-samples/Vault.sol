// SPDX-License-Identifier: MIT
// Checker sample (BENCHMARKS, stop 35; written against OpenZeppelin 5.7.0): an ERC-4626 vault over OpenZeppelin. Expected: no findings.
pragma solidity ^0.8.24;
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

contract Vault is ERC4626, Ownable {
    using Math for uint256;
    uint256 public feeBps;
    mapping(address => uint256) public lastDeposit;
    constructor(IERC20 asset_) ERC20("Vault", "VLT") ERC4626(asset_) Ownable(msg.sender) {}
    function setFee(uint256 bps) external onlyOwner { require(bps <= 1000, "fee"); feeBps = bps; }
    function deposit(uint256 assets, address receiver) public override returns (uint256) {
        lastDeposit[receiver] = block.timestamp;
        return super.deposit(assets, receiver);
    }
    function fee(uint256 assets) public view returns (uint256) {
        return assets.mulDiv(feeBps, 10_000, Math.Rounding.Ceil);
    }
}
