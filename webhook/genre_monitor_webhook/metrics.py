"""The webhook's own metrics, in a registry of its own (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from genre_monitor_webhook.decision import IGNORED_REASONS

PREFIX = "genre_monitor_webhook_"

# Outcomes of one HTTP notification; the label values of requests_total.
OUTCOME_OK = "ok"
OUTCOME_UNAUTHORIZED = "unauthorized"
OUTCOME_BAD_REQUEST = "bad_request"
OUTCOME_TOO_LARGE = "too_large"
OUTCOME_TIMEOUT = "body_timeout"
OUTCOME_BUSY = "busy"  # every handling slot taken: 503, Alertmanager retries
OUTCOME_UNAVAILABLE = "apiserver_unavailable"
OUTCOME_ERROR = "error"
OUTCOMES = (
    OUTCOME_OK,
    OUTCOME_UNAUTHORIZED,
    OUTCOME_BAD_REQUEST,
    OUTCOME_TOO_LARGE,
    OUTCOME_TIMEOUT,
    OUTCOME_BUSY,
    OUTCOME_UNAVAILABLE,
    OUTCOME_ERROR,
)


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            PREFIX + "requests",
            "Notifications received, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.alerts = Counter(
            PREFIX + "alerts",
            "Alerts received in valid notifications, by status (firing or resolved).",
            ["status"],
            registry=self.registry,
        )
        self.recorded = Counter(
            PREFIX + "retrain_requests_recorded",
            "Retrain requests written to a GenreMonitor's status, by reason (alert name).",
            ["reason"],
            registry=self.registry,
        )
        self.ignored = Counter(
            PREFIX + "alerts_ignored",
            "Alerts that recorded nothing, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.apiserver_requests = Counter(
            PREFIX + "apiserver_requests",
            "Calls made to the apiserver, by verb (get a monitor, patch its status).",
            ["verb"],
            registry=self.registry,
        )
        self.open_connections = Gauge(
            PREFIX + "open_connections",
            "HTTP connections open now (at most the connection cap).",
            registry=self.registry,
        )
        self.connections_refused = Counter(
            PREFIX + "connections_refused",
            "Connections closed on arrival because the connection cap was reached.",
            registry=self.registry,
        )
        # Zero-initialise the bounded label sets so rate() works from the start.
        for outcome in OUTCOMES:
            self.requests.labels(outcome=outcome)
        for status in ("firing", "resolved"):
            self.alerts.labels(status=status)
        for reason in IGNORED_REASONS:
            self.ignored.labels(reason=reason)
        for verb in ("get", "patch"):
            self.apiserver_requests.labels(verb=verb)
