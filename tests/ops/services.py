"""Services the failure tests own: a PostgreSQL cluster, a redis-server, idp instances.

Never the machine's shared PostgreSQL or Redis: a test that stops a service stops its own.
Everything is started on free ports under a temporary directory and torn down after.

- ``PostgresCluster``: ``initdb`` + ``pg_ctl`` (run as the ``postgres`` user when we are
  root, since PostgreSQL refuses to run as root); ``stop()``/``start()`` keep the data.
- ``RedisServer``: a ``redis-server`` without persistence; ``stop()``/``start()``.
- ``IdpInstance``: one idp served as deployed (``config/serve.py idp.wsgi:app``).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from requests.structures import CaseInsensitiveDict

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bin(name: str) -> str:
    """A PostgreSQL server program: PG_BINDIR, else the newest Debian install, else PATH."""
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                       key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates = [os.environ.get("PG_BINDIR", ""), *installed]
    for directory in candidates:
        if directory and Path(directory, name).exists():
            return str(Path(directory, name))
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install postgresql (apt-get install postgresql)")
    return found


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def http(method: str, url: str, data: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 10
         ) -> tuple[int, dict[str, str], bytes]:
    """One HTTP exchange, no redirect followed: (status, headers, body). Header names are
    case-insensitive (RFC 9110 §5.1; the server sends them in lower case)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, CaseInsensitiveDict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, CaseInsensitiveDict(err.headers), err.read()


@dataclass
class PostgresCluster:
    """A private PostgreSQL cluster; ``url(db)`` gives a SQLAlchemy URL to one database."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if os.geteuid() == 0:  # PostgreSQL refuses root: run as its own system user
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=check)

    def init(self) -> PostgresCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions")
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "pg.log"),
                  "-o", options, "-w", "-t", "30", "start")

    def stop(self) -> None:
        """A fast shutdown: every connection the instances hold is cut, as in an outage."""
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop",
                  check=False)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


@dataclass
class RedisServer:
    """A private redis-server (no persistence: a restart comes back empty, like a new node)."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.root / "redis.log").open("a")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)],
            stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.ping, 10, "redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # as abrupt as a crash
            self.proc.wait(timeout=10)
            self.proc = None

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1,
                           socket_connect_timeout=1)

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:
            return False


@dataclass
class IdpInstance:
    """One idp under the server of record; ``url`` is its own address, ``log`` its output."""

    name: str
    env: dict[str, str]
    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    workers: int = 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    def start(self) -> None:
        self.spawn()
        self.wait_up()

    def spawn(self) -> None:
        """Start the server without waiting (start two instances side by side)."""
        metrics_dir = self.root / f"{self.name}-metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
               "WEB_CONCURRENCY": str(self.workers), "SERVER_THREADS": "4"}
        self.proc = subprocess.Popen(
            [str(BIN / "python"), str(ROOT / "config" / "serve.py"), "idp.wsgi:app",
             "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=env, stdout=self.log.open("a"), stderr=subprocess.STDOUT,
            start_new_session=True)  # stop() ends the master and its workers together

    def wait_up(self) -> None:
        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                return http("GET", self.url + "/healthz", timeout=1)[0] == 200
            except OSError:
                return False

        # Generous: on a loaded machine a worker may take a minute to import the app.
        wait_for(up, 90, f"{self.name} to start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            # A worker still starting when its master went must not outlive the test.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc = None

    def readyz(self) -> tuple[int, dict]:
        status, _headers, body = http("GET", self.url + "/readyz", timeout=10)
        return status, json.loads(body)


def idp_cli(env: dict[str, str], *args: str) -> str:
    """``idp ARGS`` with ``env``; the CLI is the stable way to set an idp up."""
    return idp_cli_many(env, [list(args)])[0]


def idp_cli_many(env: dict[str, str], commands: list[list[str]]) -> list[str]:
    """Several independent ``idp`` commands at once (each pays the start-up once)."""
    procs = [subprocess.Popen([str(BIN / "idp"), *args], env=env, cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for args in commands]
    outputs = []
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"idp {' '.join(args)}: {out}{err}")
        outputs.append(out)
    return outputs


def temp_root(prefix: str) -> Path:
    """A directory the ``postgres`` user can enter (pytest's tmp dirs are private to us)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class preserved_logging:  # lower case: read as a function in a with statement
    """Undo what an in-process ``db upgrade`` does to logging.

    Alembic's ``env.py`` calls ``logging.config.fileConfig``, which disables every existing
    logger and replaces the root handlers: later tests (caplog, our capture) would see
    nothing, and a "no secret in the logs" check would pass only because nothing logged.
    """

    def __enter__(self) -> None:
        import logging

        self.root = logging.getLogger()
        self.root_state = (list(self.root.handlers), self.root.level)
        self.loggers = {
            name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
            for name, lg in logging.root.manager.loggerDict.items()
            if isinstance(lg, logging.Logger)
        }

    def __exit__(self, *exc: object) -> None:
        import logging

        self.root.handlers[:] = self.root_state[0]
        self.root.setLevel(self.root_state[1])
        for name, lg in logging.root.manager.loggerDict.items():
            if not isinstance(lg, logging.Logger):
                continue
            if name in self.loggers:
                lg.disabled, level, handlers, lg.propagate = self.loggers[name]
                lg.setLevel(level)
                lg.handlers[:] = handlers
            else:
                lg.disabled = False
