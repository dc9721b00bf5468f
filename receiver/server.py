"""Running the receiver under gunicorn, the production WSGI server, from `presence serve`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from config.settings import ConfigError, Settings
from receiver.logs import configure_json_logging
from store import db

# Not receiver.metrics: prometheus-client picks its multiprocess storage when first imported, which must
# happen after PROMETHEUS_MULTIPROC_DIR is set (in serve) and is done by each worker in load().
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

ACCESS_LOG_FORMAT = (
    '{"remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": "%(B)s", "ms": %(M)s}'
)
DEFAULT_WORKERS = 2
THREADS_PER_WORKER = 4


class _Receiver(BaseApplication):
    """gunicorn's embedding API: options in, one Flask app built per worker after the fork."""

    def __init__(self, settings: Settings, options: dict[str, Any], run_dir: Path) -> None:
        self._settings = settings
        self._options = options
        self._run_dir = run_dir
        self._flask: Any = None
        # What receiver.worker.BufferingWorker reads from its application.
        self.max_body_bytes = settings.max_body_bytes
        self.request_deadline_seconds = float(settings.request_deadline_seconds)
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self):
        # The master already migrated; each worker opens its own engine (connections must not cross a fork).
        from receiver.app import create_app

        configure_json_logging()
        self._flask = create_app(self._settings, migrate=False, run_dir=self._run_dir)
        return self._flask

    def refused(self, client: tuple, path: str, status: int, message: str) -> None:
        """A request the worker refused itself (too slow, headers too large): counted and logged as the app would."""
        from receiver.app import record_refusal

        if self._flask is not None:
            record_refusal(self._flask, str(client[0]) if client else "", path, status, message)


def _child_exit(_server, worker) -> None:
    from receiver.metrics import worker_exited

    worker_exited(worker.pid)


def serve(settings: Settings, *, host: str, port: int, workers: int = DEFAULT_WORKERS, quiet: bool = False) -> None:
    """Upgrade the schema once, then serve until SIGINT/SIGTERM (gunicorn finishes in-flight requests first).

    The worker reads every request whole in its event loop before a thread sees it, under a deadline per
    request (receiver.worker), so slow or stalled senders occupy no thread; SQLite still sees one writer at a
    time through its write lock and busy timeout.
    """
    engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
    db.migrate(engine)
    engine.dispose()
    run_dir = make_run_dir(settings.run_dir)
    try:
        _serve(settings, run_dir, host=host, port=port, workers=workers, quiet=quiet)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def make_run_dir(base: Path | None = None) -> Path:
    """A fresh scratch directory for this server, off the data disk: a full data disk must not take down what
    every request writes (the Prometheus files are mmapped: a full disk under them is SIGBUS, not an error).

    In `base` (PRESENCE_RUN_DIR) when set, else the user's runtime directory ($XDG_RUNTIME_DIR, a tmpfs), else
    /dev/shm, else the system's temporary directory.
    """
    candidates = [base] if base is not None else [os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm", None]
    for candidate in candidates:
        if candidate is not None and not (os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK)):
            continue
        return Path(tempfile.mkdtemp(prefix="presence-serve-", dir=candidate))
    raise ConfigError(f"PRESENCE_RUN_DIR={base} is not a writable directory")


def _serve(settings: Settings, run_dir: Path, *, host: str, port: int, workers: int, quiet: bool) -> None:
    metrics_dir = run_dir / "prometheus"  # a fresh one: counters restart with the server, as Prometheus expects
    metrics_dir.mkdir()
    os.environ[MULTIPROC_ENV] = str(metrics_dir)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "receiver.worker.BufferingWorker",  # gthread, given whole requests only
        "threads": THREADS_PER_WORKER,
        "timeout": 30,
        "graceful_timeout": 20,
        "keepalive": 0,  # one request per connection: see receiver.worker
        "accesslog": None if quiet else "-",
        "errorlog": "-",
        "loglevel": "warning" if quiet else "info",
        "worker_tmp_dir": str(run_dir),  # the workers' heartbeat files, off the data disk too
        "proc_name": "presence-receiver",
        # gunicorn's control socket defaults to one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl),
        # which every `presence serve` on the host would share; nothing here uses it.
        "control_socket_disable": True,
        "child_exit": _child_exit,
        # The path without the query string: HiveManager may send its secret as ?secret=, and %(r)s (the whole
        # request line) would write it to the log in clear, right or wrong.
        "access_log_format": ACCESS_LOG_FORMAT,
    }
    _Receiver(settings, options, run_dir).run()
