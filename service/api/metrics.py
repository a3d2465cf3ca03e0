"""Prometheus metrics of the service.

With several uvicorn workers, ``kohtaanto serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before
the workers start, so ``/metrics`` on any worker aggregates every worker's counters.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter(
    "kohtaanto_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "kohtaanto_http_request_seconds",
    "Time to answer an HTTP request",
    ["route"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
MODEL_SWAPS = Counter("kohtaanto_model_swaps_total", "Champion models loaded by a worker")
CHANGES_APPLIED = Counter(
    "kohtaanto_changes_applied_total", "Change-feed rows applied to a worker's matching engine"
)


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
