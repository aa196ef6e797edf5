"""``python -m demo.wait URL...``: wait until every URL answers 200, or fail after a while.

So that ``make demo`` prints its URLs only once they answer, instead of after a guessed sleep
(a first start on a slow machine takes longer than the old ``sleep 2``).
"""

from __future__ import annotations

import sys
import time
import urllib.request


def wait_for(urls: list[str], timeout: float = 60.0) -> list[str]:
    """The URLs still not answering 200 when ``timeout`` ran out (empty: all up)."""
    pending = list(urls)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for url in list(pending):
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback)
                    if resp.status == 200:
                        pending.remove(url)
            except OSError:
                pass
        if pending:
            time.sleep(0.2)
    return pending


def main() -> None:
    down = wait_for(sys.argv[1:])
    if down:
        raise SystemExit("not answering: " + " ".join(down))


if __name__ == "__main__":
    main()
