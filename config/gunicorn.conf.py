"""gunicorn settings for both apps (override with GUNICORN_CMD_ARGS)."""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
# No gunicorn access log: its request line carries query strings (codes, states). The
# apps write one JSON line per request instead (shared/logging_json.py).
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):  # gunicorn hook signature
    """Prometheus multi-process mode: forget a dead worker's live metric files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from shared.metrics import mark_process_dead

        mark_process_dead(worker.pid)
