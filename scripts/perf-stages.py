#!/usr/bin/env python3
"""Where a node's CPU goes, per stage, from `perf record --call-graph dwarf`.

Usage: scripts/perf-stages.py <perf.data> --node PID [--node PID ...]
                              [--cpu-seconds S --transactions T]

Each of the node's samples is given to one stage: the first frame, from the leaf up, that names a
stage (so a syscall made by hyper is HTTP, a Keccak inside revm is execution). Prints a Markdown
table of each stage's share of the node's samples and, given the CPU seconds the node used in the
window (from /proc, which sampling does not distort: unwinding stacks slows what it samples, and
perf drops samples when it falls behind) and the transactions handled in it, CPU microseconds per
transaction.
"""
import argparse
import collections
import re
import subprocess
import sys

# (stage, pattern over one frame's symbol), tried in order at each frame from the leaf up.
STAGES = [
    ("sender recovery (libsecp256k1)", r"secp256k1"),
    # The solo sequencer executes on a thread of its own while the block is open; revm's deep
    # frames often leave its stacks cut short of the node's own functions, so revm and the
    # block state name the stage too.
    (
        "block execution, built or verified (revm, state reads)",
        r"ricaas_execution::block::execute_block|build_now|OpenBlock|revm_|"
        r"ricaas_execution::state::BlockState|ricaas_execution::system::(check_sender|judge_sender)|"
        r"BloomHashes|receipt_for",
    ),
    # The receipts root and the state lattice run on threads of their own (scoped, rayon).
    (
        "seal (transactions and receipts roots, state commitment)",
        r"ricaas_execution::block::seal_(block|header)|receipts_root_with_blooms|lattice_after|"
        r"lattice_delta|ricaas_storage::commitment",
    ),
    (
        "commit (redb write, fsync, pool eviction)",
        r"commit_executed|commit_block|ChainStore::commit|write_contents|write_state|Mempool::evict",
    ),
    # Verification's execution and seal count under those stages; this is what verifying adds.
    ("verify besides execution and seal", r"verify_now|verify_block"),
    ("admission besides recovery (decode, checks, pool)", r"Channel::admit|Channel::submit|admit_gossip|admit_vouched"),
    ("JSON-RPC (jsonrpsee, serde_json)", r"jsonrpsee|serde_json"),
    ("HTTP (hyper)", r"hyper::"),
    ("p2p and consensus (commonware)", r"commonware_"),
]


def samples(perf_data):
    """(pid, [symbols from the leaf up]) per sample."""
    out = subprocess.run(
        ["perf", "script", "-i", perf_data, "-F", "pid,tid,ip,sym", "--no-inline"],
        capture_output=True,
        text=True,
        errors="replace",
        check=True,
    ).stdout
    pid, frames = None, None
    for line in out.splitlines():
        header = re.match(r"^\s*(\d+)/(\d+)\s*$", line)
        if header:
            if frames is not None:
                yield pid, frames
            pid, frames = int(header.group(1)), []
        elif line.strip() and frames is not None:
            parts = line.strip().split(None, 1)
            frames.append(re.sub(r"\+0x[0-9a-f]+$", "", parts[1] if len(parts) > 1 else "?"))
    if frames is not None:
        yield pid, frames


def stage_of(frames):
    for frame in frames:
        for stage, pattern in STAGES:
            if re.search(pattern, frame):
                return stage
    return "node: kernel, runtime, other"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("perf_data")
    parser.add_argument("--node", type=int, action="append", required=True)
    parser.add_argument("--cpu-seconds", type=float)
    parser.add_argument("--transactions", type=int)
    args = parser.parse_args()
    counts = collections.Counter()
    for pid, frames in samples(args.perf_data):
        if pid in args.node:
            counts[stage_of(frames)] += 1
    total = sum(counts.values())
    if total == 0:
        sys.exit("no samples of the node in " + args.perf_data)
    per_tx = args.cpu_seconds and args.transactions
    print("| stage | share of the node's CPU |" + (" µs per transaction |" if per_tx else ""))
    print("|---|---|" + ("---|" if per_tx else ""))
    for stage, count in counts.most_common():
        share = count / total
        row = f"| {stage} | {share * 100:.1f}% |"
        if per_tx:
            row += f" {share * args.cpu_seconds / args.transactions * 1e6:.1f} |"
        print(row)
    summary = f"{total} samples of the node"
    if per_tx:
        summary += (
            f"; {args.cpu_seconds:.2f} CPU s for {args.transactions} transactions: "
            f"{args.cpu_seconds / args.transactions * 1e6:.1f} µs each"
        )
    print()
    print(summary)


if __name__ == "__main__":
    main()
