"""A soak of a running stack: rounds of the load test while the API process's memory and handles are sampled.

``python -m bench.soak --pid <the API's pid> --rounds 12 --seconds 300 --users 20`` against the run
command's stack (``scripts/run-local``; the API is the ``chalice local`` process, moto runs apart),
about an hour. After each round of ``bench.load`` (its users, its read-back of every write) the
API process's resident memory, open file descriptors and threads are read from ``/proc``. The
first round warms caches and connection pools; growth is judged from its end: handles and threads
must come back to what the warm process held (a leaked socket or thread grows with every round),
memory is printed per round with its slope (a leak shows as a slope that does not flatten).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench import load

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "soak.json"
# A warm process may open a few more connections (pools fill) or threads (a server thread per
# request in flight) than after round one; a leak passes these after a few rounds.
HANDLE_SLACK = 16
THREAD_SLACK = 8


def sample(pid: int) -> dict[str, int]:
    """The process's resident memory (kB), open file descriptors and threads, from /proc."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_kb": int(status["VmRSS"].split()[0]), "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": int(status["Threads"])}


def run(base_url: str, minter: load.Minter, pid: int, *, rounds: int, seconds: float, users: int,
        seed: int | None = None) -> dict[str, Any]:
    samples, errors, unaccounted = [sample(pid)], 0, []
    for n in range(rounds):
        report = load.run(base_url, minter, users=users, seconds=seconds, seed=None if seed is None else seed + n)
        errors += report["errors"]
        unaccounted += report["unaccounted"]
        samples.append(sample(pid))
    warm, last = samples[1], samples[-1]
    return {"samples": samples, "errors": errors, "unaccounted": unaccounted,
            "fds_growth": last["fds"] - warm["fds"], "threads_growth": last["threads"] - warm["threads"],
            "rss_growth_kb": last["rss_kb"] - warm["rss_kb"],
            "leaks": [what for what, grew, slack in (("file descriptors", last["fds"] - warm["fds"], HANDLE_SLACK),
                                                     ("threads", last["threads"] - warm["threads"], THREAD_SLACK))
                      if grew > slack]}


def table(report: dict[str, Any]) -> str:
    lines = ["round  rss MB  fds  threads"]
    lines += [f"{n:5d}  {s['rss_kb'] / 1024:6.1f}  {s['fds']:3d}  {s['threads']:7d}" for n, s in enumerate(report["samples"])]
    lines.append(f"since round 1: rss {report['rss_growth_kb'] / 1024:+.1f} MB, fds {report['fds_growth']:+d}, "
                 f"threads {report['threads_growth']:+d}; load errors {report['errors']}, "
                 f"unaccounted {len(report['unaccounted'])}; leaks: {', '.join(report['leaks']) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the Katta API")
    parser.add_argument("--pid", type=int, required=True, help="the API's process (chalice local)")
    parser.add_argument("--issuer", default="http://127.0.0.1:8180/realms/katta", help="the dev IdP's issuer")
    parser.add_argument("--idp-state-dir", type=Path, default=ROOT / ".devstack" / "idp",
                        help="where the running dev IdP keeps its signing key")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=300.0, help="of each round")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds: at least 2 (the first one warms the process)")
    report = run(args.base_url, load.local_minter(args.issuer, args.idp_state_dir), args.pid, rounds=args.rounds,
                 seconds=args.seconds, users=args.users, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return 0 if not report["errors"] and not report["unaccounted"] and not report["leaks"] else 1


if __name__ == "__main__":
    sys.exit(main())
