"""Fixtures for the end-to-end tests: a real `ricaas up` process and the compiled test contracts."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent


def ricaas_binary() -> str:
    binary = os.environ.get("RICAAS_BIN", str(ROOT / "target" / "debug" / "ricaas"))
    if not Path(binary).exists():
        pytest.fail(f"ricaas binary not found at {binary}; build it with `cargo build` or set RICAAS_BIN")
    return binary


def read_headers(key: str, channel: str, chain_id: int, lifetime: int = 3600) -> dict:
    """`Authorization` header with a RiCaaS read token: a personal_sign of the read statement."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    expires = int(time.time()) + lifetime
    statement = f"RiCaaS read access\nchannel: {channel}\nchain id: {chain_id}\nexpires: {expires}"
    signature = Account.from_key(key).sign_message(encode_defunct(text=statement)).signature.hex()
    if not signature.startswith("0x"):
        signature = "0x" + signature
    return {"Authorization": f"Bearer ricaas-read.{expires}.{signature}"}


class Network:
    """A local network started with `ricaas up`; stopped (by PID) when the test ends."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [ricaas_binary(), "up", "--nodes", "1", "--data-dir", str(data_dir), "--rpc-port", "0", "--platform-listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=open(data_dir.parent / "node.log", "ab"),
            text=True,
        )
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        http = re.search(r"JSON-RPC HTTP:\s+(\S+)", text)
        ws = re.search(r"JSON-RPC WS:\s+(\S+)", text)
        key = re.search(r"developer key:\s+(\S+)", text)
        if not (http and ws and key):
            self.stop()
            raise RuntimeError(f"ricaas up did not report its endpoints:\n{text}")
        self.http_url, self.ws_url = http.group(1), ws.group(1)
        self.dev_key = Path(key.group(1)).read_text().strip()
        chain_id = int(re.search(r"chain id (\d+)", text).group(1))
        channel = self.http_url.rsplit("/channels/", 1)[1].strip("/")
        self.read_headers = read_headers(self.dev_key, channel, chain_id)

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="session")
def network():
    with tempfile.TemporaryDirectory(prefix="ricaas-e2e-") as tmp:
        net = Network(Path(tmp) / "data")
        try:
            yield net
        finally:
            net.stop()


@pytest.fixture(scope="session")
def contracts():
    out = subprocess.run(["node", str(E2E / "compile.mjs")], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)
