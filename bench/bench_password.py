"""Password cost benchmark: argon2id hash time at the production parameters and how many
password sign-ins one core can check per second.

    python bench/bench_password.py [--n 20]

Uses the idp's defaults (``ARGON2_*`` in ``idp.DEFAULTS``: t=3, m=64 MiB, p=4, above
OWASP's minimum of m=19 MiB, t=2, p=1). A sign-in costs one verification, whatever the
account (unknown, locked, legacy: the same work is spent), so verifications/s per core
is the sign-in ceiling per core. Also shown: bcrypt legacy checks and a temporary code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    import bcrypt
    from argon2 import PasswordHasher

    from idp.core.settings import AppSettings

    defaults = AppSettings()  # the shipped argon2id cost (OWASP's minimum)
    t, m, p = defaults.argon2_time_cost, defaults.argon2_memory_cost, defaults.argon2_parallelism
    ph = PasswordHasher(time_cost=t, memory_cost=m, parallelism=p)
    stored = ph.hash("Bonjour-2026!")
    hashes = timed(lambda: ph.hash("Bonjour-2026!"), args.n)
    verifies = timed(lambda: ph.verify(stored, "Bonjour-2026!"), args.n)
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    for _ in range(args.n):
        ph.verify(stored, "Bonjour-2026!")
    cpu = (time.process_time() - cpu0) / args.n
    wall = (time.perf_counter() - wall0) / args.n
    legacy = bcrypt.hashpw(b"Ancien-mdp1", bcrypt.gensalt(12))
    bc = timed(lambda: bcrypt.checkpw(b"Ancien-mdp1", legacy), max(3, args.n // 4))
    print(f"argon2id t={t} m={m // 1024} MiB p={p} on {os.cpu_count()} CPU(s)")
    print(f"hash:   median {statistics.median(hashes) * 1000:.0f} ms")
    print(f"verify: median {statistics.median(verifies) * 1000:.0f} ms wall, "
          f"{cpu * 1000:.0f} ms CPU")
    print(f"sign-ins/s per core (CPU-bound): {1 / cpu:.1f}; one request at a time: "
          f"{1 / wall:.1f}/s")
    print(f"bcrypt cost 12 legacy check: median {statistics.median(bc) * 1000:.0f} ms "
          "(once per migrated customer, then re-hashed to argon2id)")


if __name__ == "__main__":
    main()
