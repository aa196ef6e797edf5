"""gunicorn settings for both apps (override with GUNICORN_CMD_ARGS).

Measured with ``python -m bench`` (docs/performance.md, "gunicorn settings"): one worker
pinned to one CPU.
- gthread with 4 threads: a request spends much of its time waiting on the database (and
  a sign-in in argon2, which releases the GIL); a sync worker spent more CPU-efficiently
  per flow but left the core 60 % idle, so its rate and latency were far worse.
- no access log by default: one formatted line per request on the hot path (about 8 % of a
  code flow's CPU); a proxy in front logs requests anyway. ``GUNICORN_ACCESSLOG=-`` turns
  it back on.
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
