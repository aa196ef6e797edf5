"""Serve one of the apps with granian (WSGI): the server settings of record for both apps.

    python config/serve.py idp.wsgi:app --bind 0.0.0.0:5100
    python config/serve.py portal.wsgi:app --bind 0.0.0.0:5101

Why granian: measured with ``make bench`` (docs/performance.md, "Choosing the server"),
one worker pinned to one core, the same Flask apps answer 2-3x more requests per
CPU-second than under gunicorn gthread: its HTTP loop is Rust, and a request reaches a
Python blocking thread without gunicorn's per-request poller, futures and timeout work.

What gunicorn gave and how it is kept here:
- graceful reload: ``kill -HUP <master>`` respawns the workers one after the other;
- worker recycling: ``SERVER_WORKERS_LIFETIME`` (seconds, default 6 h) and
  ``SERVER_WORKERS_MAX_RSS`` (MiB, default 256): a worker past either is replaced;
- timeouts: headers must arrive within 30 s; a crashed worker is respawned; on reload or
  shutdown a worker gets ``SERVER_GRACEFUL_TIMEOUT`` (30 s) to finish, then is killed;
- ``X-Forwarded-*``: granian itself trusts none of them; the apps apply them only from
  ``IDP_TRUSTED_PROXIES`` / ``PORTAL_TRUSTED_PROXIES`` (``shared.security.TrustedProxyFix``);
- Prometheus: ``PROMETHEUS_MULTIPROC_DIR`` works as before (each worker writes its own
  files; the apps only use counters and histograms, whose files a dead worker leaves
  summed in, as prometheus-client intends; there are no live gauges to clean up);
- JSON logs: the apps' own lines (``shared.logging_json``); granian's few lines (start,
  workers spawned) go through the same formatter; no access log (the apps log each
  request themselves, without query strings).

Environment: ``WEB_CONCURRENCY`` (workers, default 2), ``SERVER_THREADS`` (blocking
threads per worker, default 4: a request waiting on the database or on argon2 releases
the GIL to the others), ``SERVER_BACKLOG``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.server import Server

ROOT = Path(__file__).resolve().parents[1]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def threads() -> int:
    """Blocking threads per worker (the database pool is sized from the same variable)."""
    return _env_int("SERVER_THREADS", 4)


def log_config() -> dict:
    """granian's own records as JSON lines on stderr, like the apps' (shared.logging_json)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "shared.logging_json.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "loggers": {"_granian": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                    "granian.access": {"handlers": [], "level": "WARNING",
                                       "propagate": False}},
    }


def tune_malloc(arenas: int = 2, mmap_threshold: int = 1 << 20) -> None:
    """glibc malloc settings for the workers, set before they are forked (they inherit them).

    Why: glibc gives each thread that allocates its own arena (up to 8 per core): with a
    worker's blocking threads, memory kept per thread. And its mmap threshold grows after
    the first large free, so argon2's 19 MiB blocks (one per concurrent sign-in) end up in
    the heap and stay in the worker's RSS after the hash (measured: 158 MiB after a sign-in
    run). A fixed 1 MiB threshold hands them back to the system at once. ``MALLOC_*``
    environment variables win.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    if not os.environ.get("MALLOC_ARENA_MAX"):
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    if not os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        libc.mallopt(-3, mmap_threshold)  # M_MMAP_THRESHOLD (also fixes it: no growth)


def build(target: str, bind: str, workers: int) -> Server:
    host, _, port = bind.rpartition(":")
    return Server(
        target,
        address=host or "127.0.0.1",
        port=int(port),
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads(),
        runtime_threads=1,
        http=HTTPModes.http1,
        websockets=False,
        backlog=_env_int("SERVER_BACKLOG", 1024),
        http1_settings=HTTP1Settings(header_read_timeout=30_000, keep_alive=True),
        log_enabled=True,
        log_dictconfig=log_config(),
        log_access=False,
        respawn_failed_workers=True,
        workers_lifetime=_env_int("SERVER_WORKERS_LIFETIME", 6 * 3600) or None,
        workers_max_rss=_env_int("SERVER_WORKERS_MAX_RSS", 256) or None,
        workers_kill_timeout=_env_int("SERVER_GRACEFUL_TIMEOUT", 30),
        working_dir=Path.cwd(),
    )


HUGE_PAGES_TUNABLE = "glibc.malloc.hugetlb=1"


def with_huge_pages() -> None:
    """Re-run this command once with glibc's malloc asking for transparent huge pages.

    Why: :func:`tune_malloc` hands argon2's 19 MiB block back to the system after every
    password check (a worker's memory stays low), so each check maps it again: about
    4,900 page faults of 4 KiB, a third of a sign-in's CPU in the kernel. Mapped with
    ``MADV_HUGEPAGE`` the same block takes about ten (measured: −27 % CPU per argon2id
    check, page faults ÷ 30). glibc reads ``GLIBC_TUNABLES`` only when a process starts,
    hence the re-exec; the workers inherit it. A no-op where huge pages are off
    (``/sys/kernel/mm/transparent_hugepage/enabled`` = never) and off glibc. Set
    ``GLIBC_TUNABLES`` yourself to choose otherwise.
    """
    if "GLIBC_TUNABLES" in os.environ or platform.libc_ver()[0] != "glibc":
        return
    env = dict(os.environ, GLIBC_TUNABLES=HUGE_PAGES_TUNABLE)
    # The same interpreter and arguments, one environment variable more.
    os.execve(sys.executable, [sys.executable, *sys.argv], env)  # noqa: S606


def main(argv: list[str] | None = None) -> None:
    if argv is None:  # run as a command (not called with arguments from Python)
        with_huge_pages()
    parser = argparse.ArgumentParser(prog="config/serve.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", help="idp.wsgi:app or portal.wsgi:app")
    parser.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT")
    parser.add_argument("--workers", type=int, default=_env_int("WEB_CONCURRENCY", 2))
    args = parser.parse_args(argv)
    # The apps and shared/ import from the working directory (the repository or /app).
    for path in (str(Path.cwd()), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ.setdefault("SERVER_THREADS", str(threads()))
    # The apps leave out what only their CLI needs (Flask-Migrate/Alembic: ~11 MiB/worker).
    os.environ["ESPACE_WEB_WORKER"] = "1"
    tune_malloc()
    build(args.target, args.bind, args.workers).serve()


if __name__ == "__main__":
    main()
