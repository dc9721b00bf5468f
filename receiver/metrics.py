"""Prometheus metrics for the receiver: requests, records, latency, and when each AP last reported.

Under gunicorn every worker is its own process, so the metrics use prometheus-client's multiprocess mode:
`presence serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory off the data disk (receiver.server)
before the workers fork, each worker
writes its values there, and /metrics adds them up. Without that variable (tests, a single process) the
ordinary in-process registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("presence_requests", "Ingest requests by vendor and HTTP status.", ["vendor", "status"])
RECORDS_STORED = Counter("presence_records_stored", "Observations written to the database.", ["vendor"])
RECORDS_DUPLICATE = Counter("presence_records_duplicate", "Re-delivered observations skipped.", ["vendor"])
LATENCY = Histogram(
    "presence_request_seconds",
    "Time to handle an ingest request, from body read to commit.",
    ["vendor"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
AP_LAST_REPORT = Gauge(
    "presence_ap_last_report_timestamp_seconds",
    "Unix time of the last accepted report from each AP (a silent AP stops moving this).",
    ["vendor", "ap_mac"],
    multiprocess_mode="max",
)


def exposition() -> tuple[bytes, str]:
    """The current metrics in Prometheus text format, summed over workers when running under gunicorn."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """Called by gunicorn when a worker exits, so its live gauges stop counting."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
