#!/usr/bin/env python3
"""Runs our security checker on releases of audited, widely deployed Solidity packages from the
npm registry (OpenZeppelin Contracts, solmate, Uniswap's cores): code a checker should find
little wrong with. Every finding here is one a user of the package would see on code they did
not write — the measure of false alarms on real code.

Each package comes from `npm pack NAME@VERSION`; its `.sol` files are checked, interfaces
(`interfaces/`, `I*.sol`), mocks and tests left out. A bare version (`5.1.0`) means
`@openzeppelin/contracts@5.1.0`. Prints the findings per rule and severity, then each medium or
high one.

Usage: scripts/check-npm-packages.py <path to ricaas> [NAME@VERSION | VERSION …]
           [--solc RELEASE] [--markdown FILE]
    (default: 4.9.6 5.1.0; --solc for packages whose open pragma, `>=0.5.0`, the newest
    release no longer compiles)
"""

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time


def fetch(spec, into):
    """Unpacks the npm package `spec` (NAME@VERSION) into `into`; returns the package directory."""
    out = subprocess.run(["npm", "pack", spec, "--silent"],
                         cwd=into, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(f"npm pack {spec} failed: {out.stderr[-1000:]}")
    archive = os.path.join(into, out.stdout.strip().splitlines()[-1])
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return os.path.join(into, "package")


def left_out(path):
    """Interfaces, mocks and tests: not code a user deploys."""
    parts = path.split(os.sep)
    name = parts[-1]
    return (any(p in ("interfaces", "mocks", "test", "tests") for p in parts)
            or (name.startswith("I") and name[1:2].isupper())
            or name.endswith(".t.sol"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ricaas")
    parser.add_argument("packages", nargs="*", default=["4.9.6", "5.1.0"])
    parser.add_argument("--solc")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    binary = os.path.abspath(args.ricaas)
    lines = []
    for spec in args.packages:
        if "@" not in spec.lstrip("@"):
            spec = f"@openzeppelin/contracts@{spec}"
        with tempfile.TemporaryDirectory() as work:
            package = fetch(spec, work)
            files = sorted(
                os.path.relpath(path, package)
                for path in glob.glob(os.path.join(package, "**", "*.sol"), recursive=True)
                if not left_out(os.path.relpath(path, package))
            )
            started = time.time()
            solc = ["--version", args.solc] if args.solc else []
            out = subprocess.run([binary, "check", "--format", "json", "--fail-on", "none", *solc, *files],
                                 cwd=package, capture_output=True, text=True, timeout=3600)
            elapsed = time.time() - started
            if out.returncode not in (0, 2):
                sys.exit(f"ricaas check failed ({out.returncode}): {out.stderr[-2000:]}")
            report = json.loads(out.stdout)
        counts = collections.Counter((f["severity"], f["rule"]) for f in report["findings"])
        lines.append(f"**{spec}**: {len(files)} files, "
                     f"{len(report['errors'])} not analysed, {len(report['findings'])} findings, {elapsed:.0f} s")
        lines.append("")
        lines.append("| severity | rule | findings |")
        lines.append("|---|---|---|")
        order = {"high": 0, "medium": 1, "low": 2, "info": 3}
        for (severity, rule), n in sorted(counts.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1])):
            lines.append(f"| {severity} | {rule} | {n} |")
        lines.append("")
        for finding in report["findings"]:
            if finding["severity"] in ("high", "medium"):
                lines.append(f"- {finding['severity']} `{finding['rule']}` {finding['file']}:{finding['line']} "
                             f"({finding['function']}): {finding['message']}")
        for error in report["errors"]:
            lines.append(f"- not analysed: `{error['file']}`: {error['error'][:160]}")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()
