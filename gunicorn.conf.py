"""gunicorn settings for `idp serve` and the Procfile (DESIGN §9)."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"  # noqa: S104
# Several workers by default: the embedded SQLite store is shared through the database file.
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, 2 * multiprocessing.cpu_count())))
# Threads give keep-alive connections and overlap database waits without more processes.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5
timeout = 30
graceful_timeout = 20
accesslog = "-" if os.environ.get("IDP_ACCESS_LOG", "") == "1" else None
errorlog = "-"
