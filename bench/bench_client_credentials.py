"""Client-credentials grants per second on ONE gunicorn worker (gthread, 4 threads).

Run: ``.venv/bin/python -m bench client_credentials`` (env BENCH_SECONDS, default 10).
Uses ``wrk`` (Debian package) as the load generator when installed, else a Python
generator in this process; either shares the 2 cores with the server, so the figure
is a floor, not a ceiling.
"""

from __future__ import annotations

import base64
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

import requests

from .servers import running_idp

SECRET = "bench-secret-" + "s" * 40
REALM = {
    "realm": "bench",
    "display_name": "Bench",
    "clients": [{"client_id": "svc", "client_secret": SECRET, "grant_types": ["client_credentials"],
                 "redirect_uris": [], "scope": "customer"}],
}


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %s"
"""


def with_wrk(token_url: str, seconds: float) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % base64.b64encode(f"svc:{SECRET}".encode()).decode())
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{int(seconds)}s", "--latency", "-s", script.name, token_url],
        capture_output=True, text=True, check=True,
    ).stdout
    os.unlink(script.name)
    wanted = ("Requests/sec", "50%", "99%", "Non-2xx", "requests in")
    for line in out.splitlines():
        if any(w in line for w in wanted):
            print("wrk:", line.strip())


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    with running_idp(REALM, workers=1, threads=4) as (url, _env):
        token_url = f"{url}/realms/bench/protocol/openid-connect/token"
        if shutil.which("wrk"):
            requests.post(token_url, data={"grant_type": "client_credentials"},
                          auth=("svc", SECRET), timeout=10)
            with_wrk(token_url, seconds)
            return
        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def worker() -> None:
            nonlocal errors
            session = requests.Session()
            mine: list[float] = []
            bad = 0
            while time.monotonic() < deadline:
                start = time.perf_counter()
                resp = session.post(token_url, data={"grant_type": "client_credentials"},
                                    auth=("svc", SECRET), timeout=10)
                mine.append(time.perf_counter() - start)
                if resp.status_code != 200:
                    bad += 1
            with lock:
                latencies.extend(mine)
                errors += bad

        # Warm up (key loading, caches), then measure.
        requests.post(token_url, data={"grant_type": "client_credentials"}, auth=("svc", SECRET),
                      timeout=10)
        threads = [threading.Thread(target=worker) for _ in range(8)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
    latencies.sort()
    count = len(latencies)
    print(f"client_credentials grants: {count} in {elapsed:.1f} s on 1 worker "
          f"-> {count / elapsed:.0f} grants/s, errors {errors}")
    print(f"latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {latencies[int(count * 0.99) - 1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
