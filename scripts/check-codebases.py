#!/usr/bin/env python3
"""Runs `ricaas check` of two builds side by side on codebases cloned beforehand and prints, per
codebase, the findings of each by severity and which findings one build has and the other has
not. For judging the checker on code it was not built on (real, audited projects), before and
after a change.

Usage:
    scripts/check-codebases.py <before-binary> <after-binary> <label>=<dir>:<path>[,<path>…] …

Each <path> is a file or directory relative to <dir> (the check runs in <dir>, so imports resolve
from there). Example:
    scripts/check-codebases.py /tmp/ricaas-before target/debug/ricaas \\
        uniswap-v2=/tmp/v2-core:contracts,contracts/libraries
"""

import json
import os
import subprocess
import sys
import time


def run(binary, directory, paths):
    started = time.monotonic()
    completed = subprocess.run(
        [os.path.abspath(binary), "check", "--format", "json", "--fail-on", "none", *paths],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    elapsed = time.monotonic() - started
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        sys.exit(f"{binary} in {directory}: no JSON report\n{completed.stderr[-2000:]}")
    findings = {
        (f["rule"], f["file"], f["line"]): f["severity"] for f in report["findings"]
    }
    return findings, len(report["files"]), len(report["errors"]), elapsed


def counts(findings):
    by = {"high": 0, "medium": 0, "low": 0}
    for severity in findings.values():
        by[severity] = by.get(severity, 0) + 1
    return f"{by['high']} / {by['medium']} / {by['low']}"


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    before, after = sys.argv[1], sys.argv[2]
    rows, details = [], []
    for spec in sys.argv[3:]:
        label, _, rest = spec.partition("=")
        directory, _, paths = rest.partition(":")
        paths = [p for p in paths.split(",") if p]
        old, _, errors, old_s = run(before, directory, paths)
        new, files, new_errors, new_s = run(after, directory, paths)
        gone = sorted(set(old) - set(new))
        added = sorted(set(new) - set(old))
        rows.append(
            f"| {label} | {files} | {errors} → {new_errors} | {counts(old)} | {counts(new)} "
            f"| {len(gone)} | {len(added)} | {old_s:.0f} / {new_s:.0f} s |"
        )
        for sign, keys, source in (("−", gone, old), ("+", added, new)):
            for rule, file, line in keys:
                details.append(f"{sign} {label}: {rule} ({source[(rule, file, line)]}) {file}:{line}")
    print(
        "| codebase | files read (after) | not checked | before: high / medium / low "
        "| after: high / medium / low | gone | new | time |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("\n".join(details) if details else "(no finding differs)")


if __name__ == "__main__":
    main()
