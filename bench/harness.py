"""What every HTTP workload shares: a fresh database, the idp set up through its CLI, the
real server (config/serve.py) pinned to CPU 0, its CPU-seconds from ``/proc``, and ``wrk``
on CPU 1.

Nothing here imports ``idp`` or ``portal``: the apps are driven through their command lines
(``idp db upgrade``, ``idp realms import``, ``idp customers create``) and over HTTP, so the
bench keeps working while their internals move.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
# The tree whose apps are served: this checkout, or another one (``git worktree``, an
# exported commit) to bench a baseline with this bench and this config/serve.py.
SOURCE = Path(os.environ.get("BENCH_SOURCE") or ROOT).resolve()
BIN = Path(sys.executable).parent
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TICKS = os.sysconf("SC_CLK_TCK")
REALM_SLUG = "bench"
PASSWORD = "Bench-Mdp-2026!"
CUSTOMER = "100001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu: str, argv: list) -> list:
    """``argv`` under ``taskset -c cpu`` when taskset exists and the CPU does."""
    if shutil.which("taskset") and int(cpu) < (os.cpu_count() or 1):
        return ["taskset", "-c", cpu, *map(str, argv)]
    return list(map(str, argv))


# --- databases -------------------------------------------------------------------------


@contextmanager
def database(kind: str, tmp: Path, name: str) -> Iterator[str]:
    """A fresh, empty database; yields its SQLAlchemy URL; drops it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / (name + '.db')}"
        return
    import psycopg

    db_name = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    try:
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        yield f"{base}/{db_name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


# --- servers ---------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the server's master and its workers)."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            out += process_tree(int(child))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes (fields 14 and 15 of ``/proc/PID/stat``)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


SERVER = "granian (config/serve.py)"


def server_argv(app: str, port: int) -> list:
    """The command line serving ``app`` with one worker, as deployed (config/serve.py).

    ``BENCH_SERVER_CMD`` replaces it to compare another server on the same machine in the
    same way, e.g. ``gunicorn -k gthread --threads 4 -w 1 -b 127.0.0.1:{port} {app}``.
    """
    other = os.environ.get("BENCH_SERVER_CMD")
    if other:
        return [part.format(app=app, port=port) for part in shlex.split(other)]
    return [BIN / "python", ROOT / "config" / "serve.py", app, "--bind",
            f"127.0.0.1:{port}", "--workers", "1"]


@dataclass
class Server:
    """One server process tree (master + worker) serving ``app`` at ``url``."""

    app: str
    env: dict
    url: str = ""
    proc: subprocess.Popen | None = None
    log: Path | None = None
    port: int = 0
    health: str = "/healthz"
    #: Another command line than the server of record (the node peer), given the port.
    argv: Callable[[int], list] | None = None

    def start(self) -> Server:
        port = self.port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        argv = self.argv(port) if self.argv else server_argv(self.app, port)
        self.log = Path(tempfile.mkstemp(prefix="bench-server-", suffix=".log")[1])
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(pinned(SERVER_CPU, argv), env=self.env, cwd=SOURCE,
                                         stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                requests.request("GET" if self.health.startswith("/") else "POST",
                                 f"{self.url}{self.health.lstrip('!')}", timeout=5)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"{SERVER} did not start: {tail}")

    @property
    def pids(self) -> list[int]:
        assert self.proc is not None
        return process_tree(self.proc.pid)

    def worker_pids(self) -> list[int]:
        return self.pids[1:]

    def cpu(self) -> float:
        return cpu_seconds(self.pids)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.unlink(missing_ok=True)


@contextmanager
def serving(app: str, env: dict, port: int = 0, health: str = "/healthz") -> Iterator[Server]:
    server = Server(app, env, port=port, health=health).start()
    try:
        yield server
    finally:
        server.stop()


# --- the idp, set up through its CLI -----------------------------------------------------


@dataclass
class Idp:
    env: dict
    secrets: dict
    server: Server | None = None

    @property
    def issuer(self) -> str:
        return f"{self.env['IDP_PUBLIC_URL']}/realms/{REALM_SLUG}"

    def endpoint(self, name: str) -> str:
        return f"{self.issuer}/protocol/openid-connect/{name}"


def run_cli(prog: str, env: dict, *args: object) -> str:
    """Run the ``idp`` or ``portal`` command; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run([BIN / prog, *map(str, args)], env=env, cwd=SOURCE, text=True,
                          capture_output=True)
    if done.returncode:
        raise RuntimeError(f"{prog} {' '.join(map(str, args))}: {done.stderr[-2000:]}")
    return done.stdout


def cli(env: dict, *args: object) -> str:
    return run_cli("idp", env, *args)


REALM = {
    "realm": REALM_SLUG,
    "display_name": "Bench",
    "clients": [
        {"client_id": "svc", "grant_types": ["client_credentials"], "redirect_uris": [],
         "token_endpoint_auth_method": "client_secret_basic", "scope": "customer"},
        {"client_id": "svc_es", "grant_types": ["client_credentials"], "redirect_uris": [],
         "token_endpoint_auth_method": "client_secret_basic", "scope": "customer",
         "access_token_signed_response_alg": "ES256"},
        {"client_id": "portal", "redirect_uris": ["http://127.0.0.1:9/cb"],
         "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
         "token_endpoint_auth_method": "client_secret_basic", "first_party": True,
         "scope": "openid profile email customer offline_access",
         # As deployed (config/demo/realm.json): the portal verifies ES256 id_tokens and
         # access tokens.
         "id_token_signed_response_alg": "ES256", "access_token_signed_response_alg": "ES256"},
    ],
    "identity_providers": [],
}
REDIRECT_URI = "http://127.0.0.1:9/cb"


def idp_env(db_url: str, port: int, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "PORTAL_"))}
    env.update({
        "IDP_SECRET_KEY": "bench-" + "k" * 40,
        "IDP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IDP_SQLALCHEMY_DATABASE_URI": db_url,
        "IDP_RATELIMIT_ENABLED": "false",
        "FLASK_APP": "idp.wsgi:app",
        "PYTHONPATH": str(SOURCE),
    })
    env.update(extra or {})
    return env


@contextmanager
def running_idp(kind: str, tmp: Path, extra_env: dict | None = None) -> Iterator[Idp]:
    """A fresh database, migrated, with the bench realm, its clients and one customer."""
    with database(kind, tmp, "idp") as db_url:
        port = free_port()
        env = idp_env(db_url, port, extra_env)
        cli(env, "db", "upgrade")
        realm_file = tmp / "realm.json"
        realm_file.write_text(json.dumps(REALM), encoding="utf-8")
        out = json.loads(cli(env, "realms", "import", realm_file, "--json"))
        cli(env, "customers", "create", "--realm", REALM_SLUG, "--identifier", CUSTOMER,
            "--email", f"c{CUSTOMER}@example.test", "--email-verified", "--password", PASSWORD,
            "--given-name", "Marie", "--family-name", "Bench")
        idp = Idp(env, out["generated_client_secrets"])
        with serving("idp.wsgi:app", env, port) as idp.server:
            yield idp


# --- wrk -------------------------------------------------------------------------------

WRK_COMMON = r"""
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } bench_ts;
           int clock_gettime(int, bench_ts*); ]]
local bench_ts = ffi.new("bench_ts")
local function now_ms()
  ffi.C.clock_gettime(1, bench_ts)
  return tonumber(bench_ts.tv_sec) * 1000 + tonumber(bench_ts.tv_nsec) / 1e6
end
-- Pacing for a target rate (requests/s for the whole run, shared by the threads):
-- each thread sends at interval_ms, catching up at most one interval behind.
local interval_ms = 0
local next_ms = 0
local bench_threads = {}
ops = 0
function setup(thread)
  thread:set("bench_rate_per_thread", BENCH_RATE / BENCH_THREADS)
  thread:set("bench_thread_no", #bench_threads + 1)
  table.insert(bench_threads, thread)
end
function init(args)
  if bench_rate_per_thread and bench_rate_per_thread > 0 then
    interval_ms = 1000 / bench_rate_per_thread
  end
  bench_init()
end
if BENCH_RATE > 0 then
  function delay()
    local t = now_ms()
    if next_ms < t - interval_ms then next_ms = t end
    next_ms = next_ms + interval_ms
    local d = next_ms - t
    if d < 0 then return 0 end
    return d
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  local counted = 0
  for _, t in ipairs(bench_threads) do counted = counted + (t:get("ops") or 0) end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %f, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
    '"counted_ops": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout, counted))
end
"""


def run_wrk(url: str, script: str, params: dict, seconds: float, connections: int,
            rate: float = 0, threads: int = 2) -> dict:
    """Run wrk on CPU 1 with ``script`` (Lua defining ``bench_init`` and ``request``).

    ``params`` become Lua globals; ``rate`` > 0 paces the run at that many requests/s.
    Returns wrk's summary (requests, latency percentiles in µs, socket and status errors).
    """
    threads = max(1, min(threads, connections))
    lua = "\n".join(f"{k} = {_lua(v)}" for k, v in
                    {**params, "BENCH_RATE": rate, "BENCH_THREADS": threads}.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua + "\n" + WRK_COMMON + "\n" + script)
    try:
        argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                "--timeout", "10s", "-s", f.name, url]
        done = subprocess.run(pinned(CLIENT_CPU, argv), capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise RuntimeError(f"wrk failed: {done.stdout[-1000:]} {done.stderr[-1000:]}")


def _lua(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    return json.dumps(str(value))
