"""``python -m bench [workload ...]``: the benchmark of record (see docs/performance.md).

Without arguments: every workload of the table, on PostgreSQL and on SQLite, printed as one
table and saved as JSON under ``bench/results/`` (timestamped, and ``latest.json``), with
the change against the previous ``latest.json``. Named workloads run alone (saved too, under
their own timestamp, not as ``latest.json``). ``import`` and ``password`` are the older
in-process micro-benchmarks, run only when named.

Options: ``--db postgresql,sqlite``, ``--seconds N`` (per run, default 10),
``--profile DIR`` (py-spy flame graph of the server during each peak run; not saved as a
result), ``--no-save``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import report, runner
from .workloads import WORKLOADS

MICRO = {"import": "bench.bench_import", "password": "bench.bench_password",
         "scale": "bench.bench_scale", "privacy": "bench.bench_privacy"}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("workloads", nargs="*", help=", ".join(
        [w.name for w in WORKLOADS] + list(MICRO)))
    parser.add_argument("--db", default="postgresql,sqlite")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--profile", default=None, metavar="DIR")
    parser.add_argument("--no-save", action="store_true")
    args, rest = parser.parse_known_args()
    names = [n.removeprefix("bench_") for n in args.workloads]
    micro = [n for n in names if n in MICRO]
    for name in micro:
        sys.argv = [MICRO[name], *rest]
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(MICRO[name]).main()
    wanted = [w for w in WORKLOADS if not names or w.name in names]
    unknown = set(names) - {w.name for w in WORKLOADS} - set(MICRO)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    if micro and len(micro) == len(names):
        return
    results = runner.run_all(wanted, args.db.split(","), args.seconds, args.profile)
    previous = report.load_previous()
    print(report.table(results, previous))
    if not args.no_save:
        path = report.save(results, latest=not names)
        print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
