#!/usr/bin/env python3
"""Scores security checkers on the SmartBugs curated dataset with SmartBugs' own rule: a
finding counts for an annotated vulnerability when its category matches and its line is one
of the vulnerability's annotated lines. Per category it prints (and with --markdown writes) the
true positives, false negatives, findings on lines not annotated with that category, and time.

Usage: scripts/score-smartbugs.py <path to ricaas> [--dataset DIR] [--markdown FILE] [--only FILE…]
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATEGORIES = [
    "reentrancy", "access_control", "arithmetic", "unchecked_low_level_calls",
    "denial_of_service", "bad_randomness", "front_running", "time_manipulation",
    "short_addresses", "other",
]


def ricaas(binary, dataset, files):
    """Findings per file as (category, line), and seconds per file, from `ricaas check`."""
    started = time.monotonic()
    out = subprocess.run(
        [binary, "check", "--format", "json", "--fail-on", "none", *files],
        cwd=dataset, capture_output=True, text=True, timeout=3600,
    )
    if out.returncode not in (0, 2):
        sys.exit(f"ricaas check failed ({out.returncode}): {out.stderr[-2000:]}")
    report = json.loads(out.stdout)
    found = collections.defaultdict(set)
    for finding in report["findings"]:
        found[finding["file"]].add((finding["category"], finding["line"]))
    seconds = {f: ms / 1000 for f, ms in report.get("file_ms", {}).items()}
    errors = {e["file"]: e["error"] for e in report.get("errors", [])}
    return found, seconds, errors, time.monotonic() - started


def score(truth, found):
    """Per category: [true positives, false negatives, findings on non-annotated lines]."""
    table = {c: [0, 0, 0] for c in CATEGORIES}
    for entry in truth:
        path = entry["path"]
        annotated = collections.defaultdict(set)
        for vuln in entry["vulnerabilities"]:
            annotated[vuln["category"]].update(vuln["lines"])
            hit = any((vuln["category"], line) in found.get(path, set()) for line in vuln["lines"])
            table[vuln["category"]][0 if hit else 1] += 1
        for category, line in found.get(path, set()):
            if line not in annotated.get(category, set()):
                table[category][2] += 1
    return table


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ricaas")
    parser.add_argument("--dataset", default=os.path.join(ROOT, "..", "shared", "datasets", "smartbugs-curated"))
    parser.add_argument("--markdown")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    dataset = os.path.abspath(args.dataset)
    truth = json.load(open(os.path.join(dataset, "vulnerabilities.json")))
    if args.only:
        truth = [t for t in truth if t["path"] in args.only]
    files = [t["path"] for t in truth]
    found, seconds, errors, wall = ricaas(os.path.abspath(args.ricaas), dataset, files)
    table = score(truth, found)
    total_tp = sum(v[0] for v in table.values())
    total = sum(v[0] + v[1] for v in table.values())
    lines = [
        f"| category | annotated | ricaas found | missed | findings on other lines |",
        "|---|---|---|---|---|",
    ]
    for category in CATEGORIES:
        tp, fn, other = table[category]
        if tp + fn == 0 and other == 0:
            continue
        lines.append(f"| {category} | {tp + fn} | {tp} | {fn} | {other} |")
    lines.append(f"| **all** | {total} | **{total_tp} ({100 * total_tp / max(total, 1):.0f}%)** | "
                 f"{total - total_tp} | {sum(v[2] for v in table.values())} |")
    median = statistics.median(seconds.values()) if seconds else 0
    lines.append("")
    lines.append(f"{len(files)} contracts, {len(errors)} not checked; median {median:.2f} s per "
                 f"contract (compile and check), {wall:.0f} s in all.")
    for path, error in sorted(errors.items()):
        lines.append(f"- not checked: `{path}`: {error.splitlines()[0][:200]}")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
