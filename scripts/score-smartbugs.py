#!/usr/bin/env python3
"""Scores security checkers on the SmartBugs curated dataset with SmartBugs' own rule: a
finding counts for an annotated vulnerability when its category matches and one of its lines
is one of the vulnerability's annotated lines. Per category it prints (and with --markdown
writes) per tool the vulnerabilities found and the findings none of whose lines is annotated
with their category, and the time per contract; for ours also how many findings of each rule
were confirmed by running the compiled contract in revm.

With --slither, Slither runs on every contract in the same script with the same solc release as
ours (the newest the pragma allows, from the platform's compiler cache through
scripts/solc-shim.mjs, since native solc cannot be downloaded here). Slither's checks map to
categories by SmartBugs' own table (tools/slither/findings.yaml in smartbugs/smartbugs) plus the
checks it leaves unmapped that plainly belong to a category (unchecked-lowlevel, unchecked-send,
weak-prng, arbitrary-send-eth): generous to Slither. A Slither result's lines are the lines of
its statement elements and the first line of its declaration elements.

With --mythril, Mythril runs the same way (its `solc` is the shim, through the SOLC variable;
sources are read by the shim as native solc would). Its issues map to categories by their SWC
identifier, as SmartBugs' tools/mythril/findings.yaml does; an issue's line is its `lineno`.
--mythril-timeout bounds its symbolic execution per contract (`--execution-timeout`, default
60 s; SmartBugs gives it far longer, so it may find more there than here).

Usage: scripts/score-smartbugs.py <path to ricaas> [--slither PATH] [--mythril PATH]
           [--mythril-timeout S] [--dataset DIR] [--markdown FILE] [--only FILE…]
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import re
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATEGORIES = [
    "reentrancy", "access_control", "arithmetic", "unchecked_low_level_calls",
    "denial_of_service", "bad_randomness", "front_running", "time_manipulation",
    "short_addresses", "other",
]


def ricaas(binary, dataset, files):
    """Findings per file as (category, line), seconds per file, errors, and per rule how many
    findings were confirmed, from `ricaas check`."""
    out = subprocess.run(
        [binary, "check", "--format", "json", "--fail-on", "none", *files],
        cwd=dataset, capture_output=True, text=True, timeout=3600,
    )
    if out.returncode not in (0, 2):
        sys.exit(f"ricaas check failed ({out.returncode}): {out.stderr[-2000:]}")
    report = json.loads(out.stdout)
    found = collections.defaultdict(set)
    # Per rule: [findings shown by running the contract in revm, findings].
    confirmed = collections.defaultdict(lambda: [0, 0])
    for finding in report["findings"]:
        # Its own line and the lines of the places it involves (where a block value becomes a
        # draw), as a Slither result's lines are those of all its elements.
        lines = [finding["line"]] + [r["line"] for r in finding.get("related", [])]
        found[finding["file"]].add((finding["category"], frozenset(lines)))
        confirmed[finding["rule"]][1] += 1
        confirmed[finding["rule"]][0] += bool(finding.get("confirmed"))
    seconds = {f: ms / 1000 for f, ms in report.get("file_ms", {}).items()}
    errors = {e["file"]: e["error"] for e in report.get("errors", [])}
    return found, seconds, errors, confirmed


SLITHER_CATEGORIES = {
    # SmartBugs' mapping (DASP-1 reentrancy, -2 access control, -4 unchecked calls, -5 denial of
    # service, -8 time manipulation).
    "arbitrary-send": "access_control", "calls-loop": "denial_of_service",
    "controlled-delegatecall": "access_control", "locked-ether": "denial_of_service",
    "low-level-calls": "unchecked_low_level_calls", "reentrancy-benign": "reentrancy",
    "reentrancy-eth": "reentrancy", "reentrancy-no-eth": "reentrancy", "suicidal": "access_control",
    "timestamp": "time_manipulation", "tx-origin": "access_control",
    "unused-return": "unchecked_low_level_calls", "return-bomb": "denial_of_service",
    # Unmapped there, but plainly of a category.
    "unchecked-lowlevel": "unchecked_low_level_calls", "unchecked-send": "unchecked_low_level_calls",
    "weak-prng": "bad_randomness", "arbitrary-send-eth": "access_control",
    "reentrancy-unlimited-gas": "reentrancy", "reentrancy-events": "reentrancy",
}


MYTHRIL_CATEGORIES = {
    "101": "arithmetic", "104": "unchecked_low_level_calls", "105": "access_control",
    "106": "access_control", "107": "reentrancy", "112": "access_control",
    "113": "denial_of_service", "114": "front_running", "115": "access_control",
    "116": "time_manipulation", "120": "bad_randomness", "124": "access_control",
    "128": "denial_of_service",
}


def cache_dir():
    return os.environ.get("RICAAS_COMPILER_CACHE") or os.path.expanduser("~/.cache/ricaas/compilers")


def solc_for(path, installed):
    """The release our checker compiles `path` with: the newest installed one its pragma allows."""
    text = open(path, encoding="utf8", errors="replace").read()
    match = re.search(r"pragma\s+solidity\s+([^;]+);", text)
    if not match:
        return installed[0] if installed else None
    spec = match.group(1).strip()
    key = lambda v: tuple(int(p) for p in v.split("."))
    exact = re.fullmatch(r"=?\s*(\d+\.\d+\.\d+)", spec)
    if exact:
        return exact.group(1) if exact.group(1) in installed else None
    caret = re.fullmatch(r"\^\s*(\d+)\.(\d+)\.(\d+)", spec)
    if caret:
        major, minor, patch = map(int, caret.groups())
        fits = [v for v in installed if key(v)[:2] == (major, minor) and key(v)[2] >= patch]
        return max(fits, key=key) if fits else None
    return None


def slither(slither_bin, ricaas_root, dataset, files):
    """Findings per file as (category, line), seconds per file, errors."""
    solc_root = os.path.join(cache_dir(), "solc")
    installed = sorted(os.listdir(solc_root)) if os.path.isdir(solc_root) else []
    found, seconds, errors = collections.defaultdict(set), {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            version = solc_for(os.path.join(dataset, path), installed)
            if not version:
                errors[path] = "no installed solc release fits its pragma"
                continue
            wrapper = solc_wrapper(tmp, ricaas_root, version)
            report = os.path.join(tmp, "slither.json")
            if os.path.exists(report):
                os.remove(report)
            started = time.monotonic()
            try:
                run = subprocess.run([slither_bin, path, "--solc", wrapper, "--json", report, "--disable-color"],
                                     cwd=dataset, capture_output=True, text=True, timeout=600)
            except subprocess.TimeoutExpired:
                errors[path] = "timed out after 600 s"
                continue
            seconds[path] = time.monotonic() - started
            try:
                result = json.load(open(report))
            except (OSError, ValueError):
                last = [line for line in run.stderr.splitlines() if line.strip()][-1:] or ["no output"]
                errors[path] = f"no report (exit {run.returncode}): {last[0][:200]}"
                continue
            if not result.get("success"):
                errors[path] = (result.get("error") or "failed").splitlines()[0][:200]
                continue
            for detector in result.get("results", {}).get("detectors", []):
                category = SLITHER_CATEGORIES.get(detector["check"])
                if not category:
                    continue
                lines = set()
                for element in detector.get("elements", []):
                    element_lines = element.get("source_mapping", {}).get("lines", [])
                    lines.update(element_lines if element.get("type") == "node" else element_lines[:1])
                found[path].add((category, frozenset(lines)))
    return found, seconds, errors


def solc_wrapper(tmp, ricaas_root, version):
    """A `solc` executable in `tmp` running solcjs `version` through the shim."""
    wrapper = os.path.join(tmp, f"solc-{version}")
    if not os.path.exists(wrapper):
        shim = os.path.join(ricaas_root, "scripts", "solc-shim.mjs")
        soljson = os.path.join(cache_dir(), "solc", version, "soljson.js")
        with open(wrapper, "w") as out:
            out.write(f'#!/bin/sh\nexec node "{shim}" "{soljson}" "$@"\n')
        os.chmod(wrapper, 0o755)
    return wrapper


def mythril(myth_bin, ricaas_root, dataset, files, timeout):
    """Findings per file as (category, line), seconds per file, errors."""
    solc_root = os.path.join(cache_dir(), "solc")
    installed = sorted(os.listdir(solc_root)) if os.path.isdir(solc_root) else []
    found, seconds, errors = collections.defaultdict(set), {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            version = solc_for(os.path.join(dataset, path), installed)
            if not version:
                errors[path] = "no installed solc release fits its pragma"
                continue
            env = dict(os.environ, SOLC=solc_wrapper(tmp, ricaas_root, version))
            started = time.monotonic()
            try:
                run = subprocess.run([myth_bin, "analyze", path, "-o", "json", "--execution-timeout", str(timeout)],
                                     cwd=dataset, env=env, capture_output=True, text=True, timeout=timeout * 4 + 120)
            except subprocess.TimeoutExpired:
                errors[path] = f"timed out after {timeout * 4 + 120} s"
                continue
            seconds[path] = time.monotonic() - started
            try:
                result = json.loads(run.stdout)
            except ValueError:
                last = [line for line in run.stderr.splitlines() if line.strip()][-1:] or ["no output"]
                errors[path] = f"no report (exit {run.returncode}): {last[0][:200]}"
                continue
            if not result.get("success"):
                errors[path] = (result.get("error") or "failed").splitlines()[0][:200]
                continue
            for issue in result.get("issues", []):
                category = MYTHRIL_CATEGORIES.get(str(issue.get("swc-id")))
                if category and issue.get("lineno"):
                    found[path].add((category, frozenset([issue["lineno"]])))
    return found, seconds, errors


def score(truth, found):
    """Per category: [true positives, false negatives, findings on no annotated line]. A finding
    is (category, its lines): it finds a vulnerability of its category when one of its lines is
    annotated, and counts in the last column when none is."""
    table = {c: [0, 0, 0] for c in CATEGORIES}
    for entry in truth:
        path = entry["path"]
        findings = found.get(path, set())
        annotated = collections.defaultdict(set)
        for vuln in entry["vulnerabilities"]:
            annotated[vuln["category"]].update(vuln["lines"])
            hit = any(c == vuln["category"] and lines & set(vuln["lines"]) for c, lines in findings)
            table[vuln["category"]][0 if hit else 1] += 1
        for category, lines in findings:
            if not lines & annotated.get(category, set()):
                table[category][2] += 1
    return table


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ricaas")
    parser.add_argument("--slither", help="the slither executable (pip install slither-analyzer)")
    parser.add_argument("--mythril", help="the myth executable (pip install mythril)")
    parser.add_argument("--mythril-timeout", type=int, default=60, help="seconds of symbolic execution per contract")
    parser.add_argument("--dataset", default=os.path.join(ROOT, "..", "shared", "datasets", "smartbugs-curated"))
    parser.add_argument("--markdown")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    dataset = os.path.abspath(args.dataset)
    truth = json.load(open(os.path.join(dataset, "vulnerabilities.json")))
    if args.only:
        truth = [t for t in truth if t["path"] in args.only]
    files = [t["path"] for t in truth]
    tools = {}
    found, seconds, errors, confirmed = ricaas(os.path.abspath(args.ricaas), dataset, files)
    tools["ricaas"] = (found, seconds, errors)
    if args.slither:
        tools["slither"] = slither(os.path.abspath(args.slither), ROOT, dataset, files)
    if args.mythril:
        tools["mythril"] = mythril(os.path.abspath(args.mythril), ROOT, dataset, files, args.mythril_timeout)
    tables = {name: score(truth, result[0]) for name, result in tools.items()}
    names = list(tools)
    header = "| category | annotated | " + " | ".join(f"{n} found | {n} other lines" for n in names) + " |"
    lines = [header, "|---|---|" + "---|---|" * len(names)]
    for category in CATEGORIES:
        annotated = tables["ricaas"][category][0] + tables["ricaas"][category][1]
        if annotated == 0 and all(tables[n][category][2] == 0 for n in names):
            continue
        cells = " | ".join(f"{tables[n][category][0]} | {tables[n][category][2]}" for n in names)
        lines.append(f"| {category} | {annotated} | {cells} |")
    total = sum(v[0] + v[1] for v in tables["ricaas"].values())
    cells = []
    for n in names:
        tp = sum(v[0] for v in tables[n].values())
        cells.append(f"**{tp} ({100 * tp / max(total, 1):.0f}%)** | {sum(v[2] for v in tables[n].values())}")
    lines.append(f"| **all** | {total} | " + " | ".join(cells) + " |")
    lines.append("")
    shown = [f"{rule} {c} of {n}" for rule, (c, n) in sorted(confirmed.items()) if c]
    lines.append("ricaas findings confirmed by running the compiled contract in revm, per rule: "
                 + (", ".join(shown) if shown else "none") + ".")
    lines.append("")
    for n in names:
        found, seconds, errors = tools[n]
        median = statistics.median(seconds.values()) if seconds else 0
        lines.append(f"{n}: {len(files) - len(errors)} of {len(files)} contracts analysed, median "
                     f"{median:.2f} s per contract, {sum(seconds.values()):.0f} s in all.")
        for path, error in sorted(errors.items()):
            lines.append(f"- {n} did not analyse `{path}`: {error.splitlines()[0][:200] if error else ''}")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
