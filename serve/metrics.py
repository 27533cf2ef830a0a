"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

import time

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "leadscore_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "leadscore_http_request_seconds",
            "Request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.leads = Counter(
            "leadscore_leads_scored", "Leads scored, by grade", ["grade"], registry=self.registry
        )
        self.warnings = Counter(
            "leadscore_lead_warnings", "Warnings on scored leads", registry=self.registry
        )
        self.reloads = Counter(
            "leadscore_model_reloads",
            "Model reloads by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "leadscore_model_info",
            "The model being served (value 1)",
            ["model_version", "contract_version"],
            registry=self.registry,
        )
        self.log_written = Gauge(
            "leadscore_scoring_log_rows_written",
            "Rows written to the scoring log",
            registry=self.registry,
        )
        self.log_failures = Gauge(
            "leadscore_scoring_log_write_failures",
            "Failed scoring-log writes (rows spilled to a file)",
            registry=self.registry,
        )

        self._scoring_log_watched = False

    def watch_scoring_log(self, source) -> None:
        """Export the scoring log's counters (read at scrape time from `source()`)."""
        if not self._scoring_log_watched:
            self.registry.register(ScoringLogCollector(source))
            self._scoring_log_watched = True

    def observe_leads(self, grades, n_warnings: int) -> None:
        values, counts = np.unique(grades, return_counts=True)
        for grade, count in zip(values, counts, strict=True):
            self.leads.labels(str(grade)).inc(int(count))
        if n_warnings:
            self.warnings.inc(n_warnings)

    def serving(self, model_version: str, contract_version: str) -> None:
        self.model_info.clear()
        self.model_info.labels(model_version, contract_version).set(1)


class MetricsMiddleware:
    """Pure ASGI middleware: count and time every request by its route template."""

    def __init__(self, app, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_with_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(name, str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)


SCORING_LOG_COUNTERS = {
    "spilled": "Rows kept in the journal while the database failed",
    "replayed": "Spilled rows since written to the database",
    "lost": "Rows neither in the database nor in the journal",
    "rejected": "Rows the database refused for their values (dead-lettered with the reason)",
    "journal_failures": "Journal commits that failed (rows then written to the database)",
}


class ScoringLogCollector:
    """The scoring log's durability counters and health, read from its stats at scrape time."""

    def __init__(self, source) -> None:
        self.source = source

    def collect(self):
        scoring_log = self.source()
        if scoring_log is None:
            return
        stats = scoring_log.stats
        for name, text in SCORING_LOG_COUNTERS.items():
            yield CounterMetricFamily(
                f"leadscore_scoring_log_{name}", text, value=getattr(stats, name)
            )
        yield GaugeMetricFamily(
            "leadscore_scoring_log_healthy",
            "1 when the journal and the database both take rows",
            value=int(scoring_log.healthy),
        )
        yield GaugeMetricFamily(
            "leadscore_scoring_log_unshipped_rows",
            "Rows durable in the journal and not yet in the database",
            value=scoring_log.backlog.rows,
        )
        yield GaugeMetricFamily(
            "leadscore_scoring_log_oldest_unshipped_seconds",
            "How long the oldest row not yet in the database has waited (0: none waits)",
            value=scoring_log.backlog.oldest_seconds(),
        )
        yield GaugeMetricFamily(
            "leadscore_scoring_log_dead_letter_rows",
            "Rows the database refused for their values, waiting in the dead-letter file "
            "(`leadscore scoring-log replay` ships them after a fix)",
            value=scoring_log.dead_letters,
        )
