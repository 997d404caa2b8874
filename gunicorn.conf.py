"""gunicorn settings for `idp serve` and the Procfile (DESIGN §9)."""

import os
from typing import Any

from idp import serving

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"  # noqa: S104

# gunicorn >= 25.1 opens a control socket for `gunicornc` at one path per user
# (~/.gunicorn/gunicorn.ctl or $XDG_RUNTIME_DIR/gunicorn.ctl): a second instance on the host
# unlinks the first one's socket and takes the path over, and whichever stops first removes the
# other's. So it is off unless GUNICORN_CONTROL_SOCKET (`idp serve --control-socket`) names a
# path of this instance's own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


# Worker count and threads: idp/serving.py, shared with `idp serve --server granian`.
workers = serving.workers(os.environ, "gunicorn")
# Threads give keep-alive connections and overlap database waits without more processes.
worker_class = "gthread"
threads = serving.threads(os.environ)
keepalive = 5
timeout = 30
graceful_timeout = serving.GRACEFUL_SECONDS
accesslog = "-" if os.environ.get("IDP_ACCESS_LOG", "") == "1" else None
errorlog = "-"


# The database job queue (services/job_queue.py, DESIGN §9): every worker consumes it from the
# start, so jobs a dead worker left are sent even by workers that never queue one themselves.
def post_worker_init(worker: Any) -> None:
    serving.tune_malloc(os.environ)  # before the request threads start
    jobs = _job_queue(worker)
    if jobs is not None:
        jobs.start()


def worker_exit(server: Any, worker: Any) -> None:
    """After the worker's last request: a consumer in the middle of a job finishes it."""
    jobs = _job_queue(worker)
    if jobs is not None:
        jobs.stop()


def _job_queue(worker: Any) -> Any:
    """The app's job queue; None when the app did not load (gunicorn reports that itself)."""
    services = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("idp.services")
    return None if services is None else services.jobs
