"""The table of record and its JSON: ``bench/results/<UTC timestamp>.json`` and
``latest.json``; the table shows the per-core change against the previous ``latest.json``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

from .harness import ROOT
from .workloads import FLOOR_OF

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"client_credentials": 2500, "client_credentials_es256": 2500, "refresh": 1000,
           "code_flow": 400, "sign_in": 45, "sign_in_owasp": 45, "portal_api": 2000}


def load_previous() -> dict | None:
    latest = RESULTS / "latest.json"
    if not latest.exists():
        return None
    try:
        return json.loads(latest.read_text(encoding="utf-8"))
    except ValueError:
        return None


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


def _local(text: str) -> str:
    """A command line without this checkout's path (results never name a machine path)."""
    return text.replace(f"{ROOT}/", "")


def metadata() -> dict:
    env = {k: _local(v) for k, v in os.environ.items()
           if k.startswith(("IDP_ARGON2", "SERVER_", "BENCH_", "WEB_CONCURRENCY"))
           and k != "BENCH_SOURCE"}  # a path of this machine: never in the results
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _git("rev-parse", "--short", "HEAD"),
        # BENCH_SOURCE (another tree served) is named by BENCH_SOURCE_LABEL, e.g. a commit.
        "source": os.environ.get("BENCH_SOURCE_LABEL", "this checkout")
        if os.environ.get("BENCH_SOURCE") else "this checkout",
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "server": _local(os.environ.get("BENCH_SERVER_CMD", ""))
        or "python config/serve.py APP --workers 1 (granian), taskset -c 0",
        "load_generator": "wrk, taskset -c 1",
        "env": env,
    }


def save(results: dict, latest: bool) -> Path:
    RESULTS.mkdir(exist_ok=True)
    doc = {"meta": metadata(), "results": results}
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    path = RESULTS / f"{doc['meta']['date'].replace(':', '')}.json"
    path.write_text(text, encoding="utf-8")
    if latest:
        (RESULTS / "latest.json").write_text(text, encoding="utf-8")
    return path


def _delta(now: float | None, before: float | None) -> str:
    if not now or not before:
        return ""
    return f"{(now - before) / before * 100:+.0f}%"


def floors(results: dict) -> dict[str, float]:
    """The floor workloads' ops per CPU-second in this run (whichever database ran them)."""
    out: dict[str, float] = {}
    for rows in results.values():
        for name, row in rows.items():
            if name.startswith(("floor_", "peer_")) and "peak" in row:
                out[name] = row["peak"]["ops_per_cpu_s"] or 0
    return out


def _ratio(name: str, value: float | None, base: dict[str, float]) -> str:
    floor = base.get(FLOOR_OF.get(name, ""))
    return f"{value / floor:.2f}" if value and floor else ""


def table(results: dict, previous: dict | None) -> str:
    prev = (previous or {}).get("results", {})
    base = floors(results)
    head = (f"{'workload':24} {'db':10} {'ops/CPU-s':>9} {'Δprev':>6} {'target':>6} "
            f"{'xfloor':>6} {'RSS':>5} {'ops/s':>7} {'CPU':>4} {'p50':>7} {'p99':>7} "
            f"{'err':>5} │ {'half: ops/s':>11} {'p50':>7} {'p99':>7} {'err':>5} {'other':>5}")
    lines = [head, "─" * len(head)]
    for kind, rows in results.items():
        for name, row in rows.items():
            if "error" in row:
                lines.append(f"{name:24} {kind:10} FAILED: {row['error'][:80]}")
                continue
            p, h = row["peak"], row["half"]
            before = prev.get(kind, {}).get(name, {}).get("peak", {}).get("ops_per_cpu_s")
            lines.append(
                f"{name:24} {kind:10} {p['ops_per_cpu_s'] or 0:>9.1f} "
                f"{_delta(p['ops_per_cpu_s'], before):>6} {TARGETS.get(name, ''):>6} "
                f"{_ratio(name, p['ops_per_cpu_s'], base):>6} "
                f"{p.get('worker_rss_mb') or 0:>5.0f} {p['ops_per_s']:>7.1f} "
                f"{p['cpu_util']:>4.0%} {p['p50_ms']:>5.1f}ms "
                f"{p['p99_ms']:>5.1f}ms {p['errors']:>5} │ {h['ops_per_s']:>11.1f} "
                f"{h['p50_ms']:>5.1f}ms {h['p99_ms']:>5.1f}ms {h['errors']:>5} "
                f"{p.get('other_cpu_util', 0):>5.0%}")
    if previous:
        lines.append(f"Δprev: ops per server CPU-second against {previous['meta']['date']} "
                     f"(commit {previous['meta']['commit']})")
    lines.append("ops/CPU-s: completed operations per CPU-second of the server (server "
                 "master + worker, pinned to CPU 0); latencies are per HTTP request (wrk).")
    lines.append("xfloor: ops/CPU-s against this run's bare-Flask floor for the same kind of "
                 "request (bench/floor_app.py; client-credentials RS256 vs floor_rs256, ES256 "
                 "grants vs floor_es256, the rest vs floor_json). RSS: the server worker's "
                 "resident MiB after the peak run (target < 128).")
    lines.append("other: CPU busy outside the server and wrk during the peak run, in CPUs "
                 "(PostgreSQL, and any foreign load: above ~30 % on SQLite the machine was "
                 "not quiet, trust ops/CPU-s over ops/s and latencies).")
    return "\n".join(lines)
