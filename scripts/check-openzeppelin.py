#!/usr/bin/env python3
"""Runs our security checker on a release of OpenZeppelin Contracts: audited, widely deployed
code that a checker should find little wrong with. Every finding here is one a user of the
library would see on code they did not write — the measure of false alarms on real code.

The release comes from the npm registry (`npm pack @openzeppelin/contracts@VERSION`); its
contracts, libraries and abstract bases are checked, interfaces (`interfaces/`, `I*.sol`) and
mocks left out. Prints the findings per rule and severity, then each medium or high one.

Usage: scripts/check-openzeppelin.py <path to ricaas> [VERSION …] [--markdown FILE]
    (default versions: 4.9.6 5.1.0)
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


def fetch(version, into):
    """Unpacks @openzeppelin/contracts@version into `into`; returns the package directory."""
    out = subprocess.run(["npm", "pack", f"@openzeppelin/contracts@{version}", "--silent"],
                         cwd=into, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(f"npm pack @openzeppelin/contracts@{version} failed: {out.stderr[-1000:]}")
    archive = os.path.join(into, out.stdout.strip().splitlines()[-1])
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return os.path.join(into, "package")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ricaas")
    parser.add_argument("versions", nargs="*", default=["4.9.6", "5.1.0"])
    parser.add_argument("--markdown")
    args = parser.parse_args()
    binary = os.path.abspath(args.ricaas)
    lines = []
    for version in args.versions:
        with tempfile.TemporaryDirectory() as work:
            package = fetch(version, work)
            files = sorted(
                os.path.relpath(path, package)
                for path in glob.glob(os.path.join(package, "**", "*.sol"), recursive=True)
                if "/interfaces/" not in path and "/mocks/" not in path
                and not (os.path.basename(path).startswith("I") and os.path.basename(path)[1:2].isupper())
            )
            started = time.time()
            out = subprocess.run([binary, "check", "--format", "json", "--fail-on", "none", *files],
                                 cwd=package, capture_output=True, text=True, timeout=3600)
            elapsed = time.time() - started
            if out.returncode not in (0, 2):
                sys.exit(f"ricaas check failed ({out.returncode}): {out.stderr[-2000:]}")
            report = json.loads(out.stdout)
        counts = collections.Counter((f["severity"], f["rule"]) for f in report["findings"])
        lines.append(f"**@openzeppelin/contracts {version}**: {len(files)} files, "
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
