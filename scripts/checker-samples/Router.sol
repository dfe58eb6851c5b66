// SPDX-License-Identifier: MIT
// Checker sample (BENCHMARKS, stop 36): a swap router users approve, over OpenZeppelin 5.7.0.
// Expected: `swapFor` (takes the tokens of an account the caller names) high
// `arbitrary-transfer-from`; `multicallTo` (calls the caller points at any contract, from a
// contract users approve) high `arbitrary-call`; `swap`, `swapWithPermit` and `rescue` silent.
pragma solidity ^0.8.20;
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

interface IPool {
    function swap(address tokenIn, uint256 amountIn, address to) external returns (uint256);
}

contract Router is Ownable {
    using SafeERC20 for IERC20;

    IPool public immutable pool;

    constructor(IPool pool_) Ownable(msg.sender) {
        pool = pool_;
    }

    function swap(IERC20 tokenIn, uint256 amountIn, address to) external returns (uint256) {
        tokenIn.safeTransferFrom(msg.sender, address(pool), amountIn);
        return pool.swap(address(tokenIn), amountIn, to);
    }

    function swapWithPermit(
        IERC20 tokenIn,
        address owner,
        uint256 amountIn,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256) {
        IERC20Permit(address(tokenIn)).permit(owner, address(this), amountIn, deadline, v, r, s);
        tokenIn.safeTransferFrom(owner, address(pool), amountIn);
        return pool.swap(address(tokenIn), amountIn, owner);
    }

    /// A "zap" for integrators: swaps on behalf of `from`.
    function swapFor(IERC20 tokenIn, address from, uint256 amountIn, address to) external returns (uint256) {
        tokenIn.safeTransferFrom(from, address(pool), amountIn);
        return pool.swap(address(tokenIn), amountIn, to);
    }

    /// Calls for integrators (claim rewards, approve a pool).
    function multicallTo(address[] calldata targets, bytes[] calldata data) external {
        for (uint256 i = 0; i < targets.length; i++) {
            (bool ok, ) = targets[i].call(data[i]);
            require(ok, "call failed");
        }
    }

    function rescue(IERC20 token, address to) external onlyOwner {
        token.safeTransfer(to, token.balanceOf(address(this)));
    }
}
