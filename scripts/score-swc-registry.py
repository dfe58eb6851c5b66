#!/usr/bin/env python3
"""Runs our security checker on the code samples of the SWC registry
(https://github.com/SmartContractSecurity/SWC-registry, MIT licence): contracts written by other
people to show each weakness, most with a fixed version beside them. A second yardstick beside
SmartBugs, for contracts the checker was not built on.

Every `### name.sol` code block of `entries/docs/SWC-*.md` becomes a sample of that SWC entry. A
sample whose name says it is safe (`fixed`, `_ok`, `not_vulnerable`, `false_positive`,
`infeasible`) should get no finding of its entry's SWC; every other sample should get at least
one. Only entries one of our rules names (by its SWC identifiers, read from the SARIF report)
count; findings of other SWCs are listed beside.

Usage: scripts/score-swc-registry.py <path to ricaas> <SWC-registry checkout> [--markdown FILE]
    (get the checkout with `git clone https://github.com/SmartContractSecurity/SWC-registry`)
"""

import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

SAFE = re.compile(r"fixed|_ok\b|not_vulnerable|false_positive|infeasible")


def samples(registry, into):
    """Writes every sample to into/SWC-xxx/name.sol; returns their paths relative to `into`."""
    paths = []
    for doc in sorted(glob.glob(os.path.join(registry, "entries", "docs", "SWC-*.md"))):
        entry = os.path.basename(doc)[:-3]
        text = open(doc, encoding="utf-8").read()
        for match in re.finditer(r"### ([\w.\-]+\.sol)\s*\n+```solidity\n(.*?)```", text, re.S):
            os.makedirs(os.path.join(into, entry), exist_ok=True)
            path = os.path.join(entry, match.group(1))
            with open(os.path.join(into, path), "w", encoding="utf-8") as out:
                out.write(match.group(2))
            paths.append(path)
    return paths


def check(binary, cwd, files, form):
    out = subprocess.run(
        [binary, "check", "--format", form, "--fail-on", "none", *files],
        cwd=cwd, capture_output=True, text=True, timeout=3600,
    )
    if out.returncode not in (0, 2):
        sys.exit(f"ricaas check failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ricaas")
    parser.add_argument("registry")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    binary = os.path.abspath(args.ricaas)
    with tempfile.TemporaryDirectory() as work:
        paths = samples(args.registry, work)
        if not paths:
            sys.exit(f"no samples under {args.registry}/entries/docs")
        started = time.time()
        report = check(binary, work, paths, "json")
        elapsed = time.time() - started
        sarif = check(binary, work, paths[:1], "sarif")
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    covered = sorted({tag for rule in rules for tag in rule["properties"]["tags"] if tag.startswith("SWC-")})
    by_file = collections.defaultdict(list)
    for finding in report["findings"]:
        by_file[finding["file"]].append(finding)
    failed = {e["file"] for e in report.get("errors", [])}

    # Per entry: [vulnerable reported, vulnerable], [safe silent, safe]; and each sample's line.
    tally = collections.defaultdict(lambda: [[0, 0], [0, 0]])
    rows = []
    for path in paths:
        entry = path.split("/")[0]
        if entry not in covered:
            continue
        name = os.path.basename(path)
        safe = bool(SAFE.search(name))
        findings = by_file.get(path, [])
        own = [f for f in findings if entry in f["swc"]]
        other = sorted({f"{f['rule']}@{f['line']}" for f in findings if entry not in f["swc"]})
        if path in failed:
            verdict = "not analysed"
        elif safe:
            tally[entry][1][1] += 1
            tally[entry][1][0] += not own
            verdict = "silent ✓" if not own else "reported ✗"
        else:
            tally[entry][0][1] += 1
            tally[entry][0][0] += bool(own)
            verdict = "reported ✓" if own else "missed ✗"
        shown = ", ".join(f"{f['rule']}@{f['line']}" + (" (confirmed)" if f["confirmed"] else "") for f in own)
        rows.append(f"| {path} | {'safe' if safe else 'vulnerable'} | {verdict} | {shown} | {', '.join(other)} |")

    lines = ["| SWC | vulnerable samples reported | safe samples silent |", "|---|---|---|"]
    totals = [[0, 0], [0, 0]]
    for entry in covered:
        (vr, vn), (ss, sn) = tally[entry]
        if vn + sn == 0:
            continue
        lines.append(f"| {entry} | {vr} of {vn} | {ss} of {sn} |")
        for i, (a, b) in enumerate(tally[entry]):
            totals[i][0] += a
            totals[i][1] += b
    lines.append(f"| **all** | **{totals[0][0]} of {totals[0][1]}** | **{totals[1][0]} of {totals[1][1]}** |")
    lines.append("")
    lines.append(f"{len(paths)} samples in all, {len(paths) - len(failed)} analysed, {elapsed:.0f} s; "
                 f"entries our rules name: {', '.join(covered)}.")
    for error in report.get("errors", []):
        lines.append(f"- not analysed: `{error['file']}`: {error['error'][:160]}")
    lines.append("")
    lines.append("| sample | kind | verdict | findings of its SWC | other findings |")
    lines.append("|---|---|---|---|---|")
    lines.extend(rows)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()
