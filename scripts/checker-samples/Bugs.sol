// SPDX-License-Identifier: MIT
// Checker sample (BENCHMARKS, stop 35; written against OpenZeppelin 5.7.0): four real bugs over OpenZeppelin. Expected: `claim`'s
// re-entry through `_safeMint`'s receiver hook (medium), `withdraw`'s stale `owed` (medium) and its
// ignored token `transfer` (high, unchecked-transfer), the open `initialize` (high, confirmed).
pragma solidity ^0.8.24;
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";

contract Drop is ERC721 {
    mapping(address => bool) public claimed;
    uint256 public next;
    constructor() ERC721("Drop", "D") {}
    function claim() external {
        require(!claimed[msg.sender], "claimed");
        _safeMint(msg.sender, next++);
        claimed[msg.sender] = true;
    }
}

contract Payout {
    IERC20 public token;
    address public owner;
    mapping(address => uint256) public owed;
    constructor(IERC20 t) { token = t; owner = msg.sender; }
    function credit(address to, uint256 amount) external { require(msg.sender == owner); owed[to] += amount; }
    function withdraw() external {
        uint256 amount = owed[msg.sender];
        token.transfer(msg.sender, amount);
        owed[msg.sender] = 0;
    }
}

contract Vaulty is Initializable {
    address public owner;
    function initialize(address owner_) external { owner = owner_; }
    function sweep(address payable to) external { require(msg.sender == owner); to.transfer(address(this).balance); }
}
