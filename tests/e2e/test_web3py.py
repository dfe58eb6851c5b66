"""web3.py, unmodified, against a RiCaaS node: deploy, transfer, balances, receipts, logs,
newHeads over WebSocket, revert reasons."""

import asyncio

import pytest
from eth_account import Account
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.providers.persistent import WebSocketProvider

SUPPLY = 10**24


def ws_headers(network):
    """Header kwargs for web3's WebSocket client (legacy websockets client or the new one)."""
    import web3.providers.persistent.websocket as websocket

    legacy = "legacy" in getattr(websocket.connect, "__module__", "")
    return {("extra_headers" if legacy else "additional_headers"): network.read_headers}


@pytest.fixture(scope="module")
def w3(network):
    w3 = Web3(Web3.HTTPProvider(network.http_url, request_kwargs={"headers": {"Content-Type": "application/json", **network.read_headers}}))
    assert w3.is_connected()
    return w3


@pytest.fixture(scope="module")
def owner(network):
    return Account.from_key(network.dev_key)


def send(w3, account, tx):
    tx.setdefault("nonce", w3.eth.get_transaction_count(account.address, "pending"))
    tx.setdefault("chainId", w3.eth.chain_id)
    tx.setdefault("gasPrice", w3.eth.gas_price)
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas({k: v for k, v in tx.items() if k not in ("nonce", "chainId", "gasPrice")} | {"from": account.address})
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)


@pytest.fixture(scope="module")
def token(w3, owner, contracts):
    artifact = contracts["Token"]
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    data = factory.constructor("RiCaaS Token", "RIC", SUPPLY).build_transaction({"from": owner.address, "gas": 3_000_000, "gasPrice": 0, "nonce": 0, "chainId": w3.eth.chain_id})["data"]
    receipt = send(w3, owner, {"data": data, "gas": 3_000_000})
    assert receipt.status == 1
    assert receipt.contractAddress is not None
    return w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])


def test_chain_identity(w3, network):
    assert w3.eth.chain_id == 1337
    assert w3.net.version == "1337"
    assert w3.client_version.startswith("RiCaaS/")
    assert w3.eth.get_block("earliest").number == 0


def test_deployed_token_reads(token, owner):
    assert token.functions.name().call() == "RiCaaS Token"
    assert token.functions.symbol().call() == "RIC"
    assert token.functions.totalSupply().call() == SUPPLY
    assert token.functions.balanceOf(owner.address).call() == SUPPLY


def test_transfer_updates_balances_and_receipt(w3, token, owner):
    recipient = Account.create().address
    before = token.functions.balanceOf(owner.address).call()
    data = token.functions.transfer(recipient, 1234).build_transaction({"from": owner.address, "gas": 100_000, "gasPrice": 0, "nonce": 0, "chainId": 1337})["data"]
    receipt = send(w3, owner, {"to": token.address, "data": data})
    assert receipt.status == 1
    assert receipt["from"] == owner.address
    assert receipt.to == token.address
    assert token.functions.balanceOf(recipient).call() == 1234
    assert token.functions.balanceOf(owner.address).call() == before - 1234
    events = token.events.Transfer().process_receipt(receipt)
    assert [(e.args["from"], e.args.to, e.args.value) for e in events] == [(owner.address, recipient, 1234)]
    block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
    assert block.hash == receipt.blockHash
    assert any(tx.hash == receipt.transactionHash for tx in block.transactions)
    tx = w3.eth.get_transaction(receipt.transactionHash)
    assert tx["from"] == owner.address and tx.blockNumber == receipt.blockNumber
    assert w3.eth.get_transaction_receipt(receipt.transactionHash).gasUsed == receipt.gasUsed


def test_filtered_logs(w3, token, owner):
    recipient = Account.create().address
    data = token.functions.transfer(recipient, 77).build_transaction({"from": owner.address, "gas": 100_000, "gasPrice": 0, "nonce": 0, "chainId": 1337})["data"]
    receipt = send(w3, owner, {"to": token.address, "data": data})
    logs = token.events.Transfer().get_logs(from_block=0, argument_filters={"to": recipient})
    assert len(logs) == 1
    assert logs[0].args.value == 77
    assert logs[0].transactionHash == receipt.transactionHash
    # A topic filter for an address that received nothing matches nothing.
    assert token.events.Transfer().get_logs(from_block=0, argument_filters={"to": Account.create().address}) == []


def test_receipts_of_one_block_number_their_logs_as_the_block_does(w3, token, owner):
    """Transfers sent together land in one block; each receipt's logs carry the block-wide
    log indexes eth_getLogs and eth_getBlockReceipts give them (a receipt is read on its own,
    the logs before it counted without decoding them)."""
    nonce = w3.eth.get_transaction_count(owner.address, "pending")
    signed = []
    for i in range(4):
        data = token.functions.transfer(Account.create().address, 10 + i).build_transaction({"from": owner.address, "gas": 100_000, "gasPrice": 0, "nonce": 0, "chainId": 1337})["data"]
        signed.append(owner.sign_transaction({"to": token.address, "data": data, "gas": 100_000, "gasPrice": 0, "nonce": nonce + i, "chainId": 1337}))
    # Signed first, then sent back to back, so that they are ordered together.
    hashes = [w3.eth.send_raw_transaction(s.raw_transaction) for s in signed]
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.05) for h in hashes]
    by_block = {}
    for receipt in receipts:
        by_block.setdefault(receipt.blockNumber, []).append(receipt)
    for number, in_block in by_block.items():
        block_logs = {(log.transactionHash, log.logIndex) for log in w3.eth.get_logs({"fromBlock": number, "toBlock": number})}
        block_receipts = {r.transactionHash: [log.logIndex for log in r.logs] for r in w3.eth.get_block_receipts(number)}
        for receipt in in_block:
            assert receipt.logs, "a transfer emits a Transfer event"
            indexes = [log.logIndex for log in receipt.logs]
            assert indexes == block_receipts[receipt.transactionHash]
            assert all((receipt.transactionHash, i) in block_logs for i in indexes)
    # At least two of the four shared a block, so some receipt's logs do not start at 0.
    assert any(log.logIndex > 0 for receipt in receipts for log in receipt.logs)


def test_native_value_transfer(w3, owner):
    recipient = Account.create().address
    receipt = send(w3, owner, {"to": recipient, "value": 10**18, "gas": 21_000})
    assert receipt.status == 1
    assert w3.eth.get_balance(recipient) == 10**18


def test_revert_reasons(w3, token, owner):
    stranger = Account.create()
    with pytest.raises(ContractLogicError) as error:
        token.functions.transfer(owner.address, 1).call({"from": stranger.address})
    assert "Token: transfer amount exceeds balance" in str(error.value)
    with pytest.raises(ContractCustomError):
        token.functions.restricted().call({"from": stranger.address})
    # A reverted transaction is mined with status 0 and the reason in the receipt.
    data = token.functions.transfer(owner.address, SUPPLY * 10).build_transaction({"from": owner.address, "gas": 100_000, "gasPrice": 0, "nonce": 0, "chainId": 1337})["data"]
    receipt = send(w3, owner, {"to": token.address, "data": data, "gas": 100_000})
    assert receipt.status == 0
    raw = w3.provider.make_request("eth_getTransactionReceipt", [receipt.transactionHash.to_0x_hex()])["result"]
    assert raw["status"] == "0x0"
    assert bytes.fromhex(raw["revertReason"][2:]).find(b"Token: transfer amount exceeds balance") > 0


def test_new_heads_over_websocket(network, w3, owner):
    async def run():
        async with AsyncWeb3(WebSocketProvider(network.ws_url, websocket_kwargs=ws_headers(network))) as aw3:
            subscription = await aw3.eth.subscribe("newHeads")
            receipt = await asyncio.to_thread(send, w3, owner, {"to": Account.create().address, "value": 1, "gas": 21_000})
            async def first_head():
                async for message in aw3.socket.process_subscriptions():
                    return message["result"]
            head = await asyncio.wait_for(first_head(), timeout=20)
            assert head["number"] == receipt.blockNumber
            assert head["hash"] == receipt.blockHash
            assert await aw3.eth.unsubscribe(subscription)
    asyncio.run(run())


def test_polled_filters(w3, token, owner):
    block_filter = w3.eth.filter("latest")
    log_filter = token.events.Transfer.create_filter(from_block="latest")
    recipient = Account.create().address
    data = token.functions.transfer(recipient, 5).build_transaction({"from": owner.address, "gas": 100_000, "gasPrice": 0, "nonce": 0, "chainId": 1337})["data"]
    receipt = send(w3, owner, {"to": token.address, "data": data})
    assert receipt.blockHash in block_filter.get_new_entries()
    entries = log_filter.get_new_entries()
    assert [(e.args.to, e.args.value) for e in entries] == [(recipient, 5)]
    assert log_filter.get_new_entries() == [], "changes are reported once"
    assert [e.args.to for e in log_filter.get_all_entries()] == [recipient]
    assert w3.eth.uninstall_filter(block_filter.filter_id)
    assert not w3.eth.uninstall_filter(block_filter.filter_id)


def test_logs_subscription_over_websocket(network, w3, token, owner):
    recipient = Account.create().address

    async def run():
        async with AsyncWeb3(WebSocketProvider(network.ws_url, websocket_kwargs=ws_headers(network))) as aw3:
            topic = aw3.keccak(text="Transfer(address,uint256)")  # a different event: must not match
            wanted = await aw3.eth.subscribe("logs", {"address": token.address})
            await aw3.eth.subscribe("logs", {"address": token.address, "topics": [topic]})
            data = token.functions.transfer(recipient, 3).build_transaction({"from": owner.address, "gas": 100_000, "gasPrice": 0, "nonce": 0, "chainId": 1337})["data"]
            receipt = await asyncio.to_thread(send, w3, owner, {"to": token.address, "data": data})

            async def first():
                async for message in aw3.socket.process_subscriptions():
                    return message

            message = await asyncio.wait_for(first(), timeout=20)
            assert message["subscription"] == wanted
            log = message["result"]
            assert log["transactionHash"] == receipt.transactionHash
            assert log["address"] == token.address

    asyncio.run(run())


def test_call_with_state_override_and_fee_history(w3, token):
    stranger = Account.create().address
    # Pretend the stranger holds tokens: balanceOf is slot 3 keyed by address (mapping layout).
    slot = Web3.solidity_keccak(["uint256", "uint256"], [int(stranger, 16), 3])
    overrides = {token.address: {"stateDiff": {slot.to_0x_hex(): "0x" + (500).to_bytes(32, "big").hex()}}}
    call = {"to": token.address, "data": token.encode_abi("balanceOf", [stranger])}
    assert int.from_bytes(w3.eth.call(call, "latest", overrides), "big") == 500
    assert int.from_bytes(w3.eth.call(call, "latest"), "big") == 0, "overrides are not persisted"
    history = w3.eth.fee_history(4, "latest", [50])
    assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1
    assert all(fee == 0 for fee in history["baseFeePerGas"])


def test_reads_without_a_token_are_refused_and_chain_identity_is_public(network):
    anonymous = Web3(Web3.HTTPProvider(network.http_url))
    assert anonymous.eth.chain_id == 1337
    with pytest.raises(Exception) as error:
        anonymous.eth.block_number
    assert "read access denied" in str(error.value)
    stranger = Account.create()
    import conftest

    as_stranger = Web3(Web3.HTTPProvider(network.http_url, request_kwargs={"headers": {"Content-Type": "application/json", **conftest.read_headers(stranger.key.hex(), "default", 1337)}}))
    with pytest.raises(Exception) as error:
        as_stranger.eth.block_number
    assert f"reader {stranger.address} is not enrolled in channel default" in str(error.value)
