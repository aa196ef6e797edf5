"""Run a workload: warm up, a peak run (closed loop), a run paced at half the peak rate.

Per-core figures are operations divided by the CPU-seconds the server's process tree
(the server's master + worker) spent during the run, read from ``/proc/PID/stat``.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import harness
from .workloads import Load, Workload

DEFAULT_SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WARMUP_SECONDS = 2


def machine_busy() -> float:
    """CPU-seconds all CPUs spent busy since boot (``/proc/stat``, idle and iowait excluded)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / harness.TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(load: Load, seconds: float, rate: float = 0) -> dict:
    params = load.params()
    cpu_before, busy_before, wrk_before = load.server.cpu(), machine_busy(), children_cpu()
    out = harness.run_wrk(load.url, load.script, params, seconds, load.connections, rate)
    cpu = load.server.cpu() - cpu_before
    wrk_cpu = children_cpu() - wrk_before
    # Everything else the machine did meanwhile: PostgreSQL, and any foreign load (a test
    # run...) that makes wall-clock rates and latencies unreliable for this run.
    other = machine_busy() - busy_before - cpu - wrk_cpu
    duration = out["duration_us"] / 1e6
    ops = out["counted_ops"]
    errors = out["status"] + out["connect"] + out["read"] + out["write"] + out["timeout"]
    return {
        "ops": ops,
        "requests": out["requests"],
        "seconds": round(duration, 2),
        "server_cpu_s": round(cpu, 2),
        "ops_per_s": round(ops / duration, 1),
        "ops_per_cpu_s": round(ops / cpu, 1) if cpu else None,
        "cpu_util": round(cpu / duration, 2),
        "p50_ms": round(out["p50_us"] / 1000, 2),
        "p99_ms": round(out["p99_us"] / 1000, 2),
        "errors": errors,
        "target_rps": round(rate, 1) if rate else None,
        "wrk_cpu_s": round(wrk_cpu, 2),
        "other_cpu_util": round(max(other, 0) / duration, 2),
    }


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    """Resident memory of one process (``VmRSS``, or its peak ``VmHWM``, in
    ``/proc/PID/status``), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except FileNotFoundError:
        return None
    return None


def memory(server: harness.Server) -> dict:
    """The warm worker's RSS once the peak run's last requests are done (a second after
    wrk stops: a sign-in still hashing holds its 19 MiB argon2 block), its peak during the
    run, and the master's (target: a worker under 128 MiB, issue 21)."""
    time.sleep(1.0)
    # A single-process server (the node peer) is its own worker.
    pids = server.worker_pids() or server.pids[:1]
    now = [rss_mb(pid) for pid in pids]
    peak = [rss_mb(pid, "VmHWM") for pid in pids]
    return {"worker_rss_mb": max((w for w in now if w), default=None),
            "worker_peak_rss_mb": max((w for w in peak if w), default=None),
            "master_rss_mb": rss_mb(server.pids[0])}


def profile(load: Load, seconds: float, out_dir: Path, stem: str) -> None:
    """py-spy flame graph (SVG) and collapsed stacks of the worker during a peak run."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    worker = load.server.worker_pids()[0]
    for fmt, ext in (("flamegraph", "svg"), ("raw", "txt")):
        # --gil: only the thread holding the GIL is sampled, i.e. where the CPU goes.
        argv = [spy, "record", "--gil", "--pid", str(worker), "--rate", "200", "--format", fmt,
                "--duration", str(int(seconds) + 1), "--output", str(out_dir / f"{stem}.{ext}")]
        spy_proc = subprocess.Popen(harness.pinned(harness.CLIENT_CPU, argv),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        harness.run_wrk(load.url, load.script, load.params(), seconds, load.connections)
        spy_proc.wait(timeout=seconds + 60)


def run_one(workload: Workload, kind: str, seconds: float, profile_dir: str | None) -> dict:
    seconds = max(seconds, workload.min_seconds)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        with contextlib.ExitStack() as stack:
            idp = None if workload.standalone else stack.enter_context(
                harness.running_idp(kind, tmp, workload.idp_env))
            load = stack.enter_context(workload.prepare(idp, tmp))
            harness.run_wrk(load.url, load.script, load.params(), WARMUP_SECONDS,
                            load.connections)
            if profile_dir:
                profile(load, seconds, Path(profile_dir), f"{workload.name}-{kind}")
            peak = measure(load, seconds)
            peak.update(memory(load.server))
            rps = peak["requests"] / peak["seconds"]
            half = measure(load, seconds, rate=rps / 2)
        return {"peak": peak, "half": half}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_all(workloads: list[Workload], kinds: list[str], seconds: float | None,
            profile_dir: str | None) -> dict:
    results: dict = {}
    for kind in kinds:
        for workload in workloads:
            if workload.standalone and kind != kinds[0]:
                continue  # no database: once per run
            if not workload.available():
                print(f"{kind:10} {workload.name:20} skipped (not installed)", flush=True)
                continue
            print(f"{kind:10} {workload.name:20}", end=" ", flush=True)
            try:
                row = run_one(workload, kind, seconds or DEFAULT_SECONDS, profile_dir)
            except Exception as exc:  # one broken workload must not hide the others
                traceback.print_exc()
                row = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                print("FAILED", flush=True)
            else:
                peak = row["peak"]
                print(f"{peak['ops_per_cpu_s']}/CPU-s  p99 {peak['p99_ms']} ms  "
                      f"half-peak p99 {row['half']['p99_ms']} ms  "
                      f"worker {peak.get('worker_rss_mb')} MiB", flush=True)
            results.setdefault(kind, {})[workload.name] = row
    return results
