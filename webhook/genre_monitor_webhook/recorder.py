"""Records retrain requests on GenreMonitors in the apiserver. The I/O half.

Reads the monitor (``get genremonitors``) and writes only through the status
subresource with a JSON merge patch (``patch genremonitors/status``): the
webhook can never change a spec, and it needs no other permission.
Blocking (the kubernetes client is synchronous): call from a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from genre_monitor.api import GROUP, PLURAL, VERSION
from genre_monitor_webhook.decision import (
    IGNORED_FORBIDDEN,
    IGNORED_OTHER_NAMESPACE,
    IGNORED_RESOLVED,
    IGNORED_TOO_MANY_MONITORS,
    IGNORED_UNKNOWN_MONITOR,
    decide,
    monitor_reference_problem,
    status_patch,
)
from genre_monitor_webhook.metrics import WebhookMetrics
from genre_monitor_webhook.payload import Alert, Notification

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "genre-monitor-webhook"  # names the webhook in managedFields
# Connect and read timeouts: a hung apiserver must become a 503 (Alertmanager
# retries) well before Alertmanager's own 10 s webhook timeout.
REQUEST_TIMEOUT = (3.0, 6.0)
# Optimistic-concurrency retries when the monitor changed between read and patch.
MAX_CONFLICT_RETRIES = 5
# Distinct monitors one notification may name; each costs an apiserver GET.
# The operator's AlertmanagerConfig groups by monitor, so one is the norm.
DEFAULT_MAX_MONITORS = 8


class ApiUnavailable(Exception):
    """The apiserver could not be reached or answered 5xx/429: retry later."""


class ApiRejected(Exception):
    """The apiserver refused for a reason a retry will not fix by itself (403, 422)."""


class Forbidden(ApiRejected):
    """403: RBAC does not allow this (e.g. a namespace the chart does not watch)."""


class Conflict(Exception):
    """The monitor changed since it was read (409)."""


class NotFound(Exception):
    pass


class MonitorStore(Protocol):
    def get(self, namespace: str, name: str) -> dict | None: ...

    def patch_status(self, namespace: str, name: str, patch: dict) -> dict: ...


class KubernetesMonitors:
    """GenreMonitors through the official kubernetes client."""

    def __init__(self, api_client):
        from kubernetes import client

        self.api = client.CustomObjectsApi(api_client)

    def get(self, namespace: str, name: str) -> dict | None:
        try:
            return self._call(
                self.api.get_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name
            )
        except NotFound:
            return None

    def patch_status(self, namespace: str, name: str, patch: dict) -> dict:
        return self._call(
            self.api.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            patch,
            field_manager=FIELD_MANAGER,
            _content_type=MERGE_PATCH,
        )

    @staticmethod
    def _call(method, *args, **kwargs):
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return method(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except ApiException as exc:
            status = exc.status or 0
            if status == 404:
                raise NotFound(_api_message(exc)) from None
            if status == 409:
                raise Conflict(_api_message(exc)) from None
            if status == 403:
                raise Forbidden(f"apiserver answered 403: {_api_message(exc)}") from None
            if status == 0 or status == 429 or status >= 500:
                raise ApiUnavailable(f"apiserver answered {status}: {_api_message(exc)}") from None
            raise ApiRejected(f"apiserver answered {status}: {_api_message(exc)}") from None
        except (HTTPError, OSError) as exc:
            raise ApiUnavailable(f"apiserver unreachable: {exc}") from None


def _api_message(exc) -> str:
    import json

    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


@dataclass
class Outcome:
    """What one notification did, for the HTTP response and the tests."""

    recorded: list[dict] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)

    def ignore(self, reason: str, count: int = 1) -> None:
        self.ignored[reason] = self.ignored.get(reason, 0) + count

    def as_dict(self) -> dict:
        return {"recorded": self.recorded, "ignored": self.ignored}


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Recorder:
    def __init__(
        self,
        store: MonitorStore,
        metrics: WebhookMetrics,
        clock: Callable[[], str] = utc_now,
        max_monitors: int = DEFAULT_MAX_MONITORS,
    ):
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.max_monitors = max_monitors

    def handle(self, notification: Notification, sender_namespace: str | None = None) -> Outcome:
        """Record what ``notification`` asks for. Raises ApiUnavailable/ApiRejected.

        ``sender_namespace``: the only namespace the sender's token speaks
        for (None: the chart's own token, every namespace). Alerts naming
        another namespace, and monitors beyond ``max_monitors``, are ignored
        before any apiserver call. A notification that fails half-way is safe
        to retry whole: what was already recorded is found pending and not
        written again.
        """
        outcome = Outcome()
        if notification.truncated_alerts:
            # Alertmanager's max_alerts dropped some; they come again in a
            # later notification of the group, so this is worth a note only.
            log.warning(
                "notification truncated: %d alerts not included",
                notification.truncated_alerts,
                extra={"group_key": notification.group_key},
            )
        by_monitor: dict[tuple[str, str], list[Alert]] = {}
        # Ignored in bulk, one log line per notification: a sender must not
        # turn one request into thousands of log lines.
        other_namespace: list[Alert] = []
        over_cap: list[Alert] = []
        for alert in notification.alerts:
            self.metrics.alerts.labels(status=alert.status).inc()
            key = (alert.monitor_namespace, alert.monitor_name)
            if not alert.firing:
                self._ignored(outcome, alert, IGNORED_RESOLVED, "resolved alerts trigger nothing")
            elif problem := monitor_reference_problem(alert):
                self._ignored(outcome, alert, *problem)
            elif sender_namespace is not None and alert.monitor_namespace != sender_namespace:
                other_namespace.append(alert)
            elif key not in by_monitor and len(by_monitor) >= self.max_monitors:
                over_cap.append(alert)
            else:
                by_monitor.setdefault(key, []).append(alert)
        self._refused(
            outcome, IGNORED_OTHER_NAMESPACE, other_namespace,
            f"the sender's token is for namespace {sender_namespace!r} only",
            sender_namespace,
        )  # fmt: skip
        self._refused(
            outcome, IGNORED_TOO_MANY_MONITORS, over_cap,
            f"a notification may name at most {self.max_monitors} monitors",
            sender_namespace,
        )  # fmt: skip
        for (namespace, name), alerts in by_monitor.items():
            self._handle_monitor(namespace, name, alerts, outcome)
        return outcome

    def _refused(
        self,
        outcome: Outcome,
        reason: str,
        alerts: list[Alert],
        detail: str,
        sender_namespace: str | None,
    ) -> None:
        if not alerts:
            return
        self.metrics.ignored.labels(reason=reason).inc(len(alerts))
        outcome.ignore(reason, len(alerts))
        named = sorted({f"{a.monitor_namespace}/{a.monitor_name}" for a in alerts})
        log.warning(
            "%d alerts ignored: %s",
            len(alerts),
            detail,
            extra={
                "reason": reason,
                "sender_namespace": sender_namespace,
                # A sample, bounded: the labels are the sender's to choose.
                "monitors": named[:5],
                "monitor_count": len(named),
            },
        )

    def _handle_monitor(
        self, namespace: str, name: str, alerts: list[Alert], outcome: Outcome
    ) -> None:
        try:
            monitor = self._get(namespace, name)
        except Forbidden as exc:
            # Not allowed to read it: the monitor's namespace is outside what
            # the webhook is granted (operator.watchNamespaces). Retrying
            # cannot help, so it is answered like an unknown monitor, loudly.
            for alert in alerts:
                self._ignored(outcome, alert, IGNORED_FORBIDDEN, str(exc))
            return
        for alert in alerts:
            for _attempt in range(MAX_CONFLICT_RETRIES):
                decision = decide(alert, monitor, self.clock())
                if not decision.record:
                    self._ignored(outcome, alert, decision.ignored, decision.detail)
                    break
                patch = status_patch(decision.request, monitor["metadata"]["resourceVersion"])
                try:
                    # The patched object comes back: later alerts of this
                    # notification are decided against it without a re-read.
                    monitor = self._patch_status(namespace, name, patch)
                except Conflict:
                    monitor = self._get(namespace, name)
                    continue
                except NotFound:
                    monitor = None  # deleted between read and write
                    continue
                self._recorded(outcome, alert, decision.request.to_status())
                break
            else:
                raise ApiUnavailable(
                    f"GenreMonitor {namespace}/{name} kept changing: "
                    f"{MAX_CONFLICT_RETRIES} conflicting writes in a row"
                )

    def _get(self, namespace: str, name: str) -> dict | None:
        self.metrics.apiserver_requests.labels(verb="get").inc()
        return self.store.get(namespace, name)

    def _patch_status(self, namespace: str, name: str, patch: dict) -> dict:
        self.metrics.apiserver_requests.labels(verb="patch").inc()
        return self.store.patch_status(namespace, name, patch)

    def _recorded(self, outcome: Outcome, alert: Alert, request: dict) -> None:
        self.metrics.recorded.labels(reason=request["reason"]).inc()
        outcome.recorded.append(
            {"namespace": alert.monitor_namespace, "genreMonitor": alert.monitor_name, **request}
        )
        log.info(
            "retrain request recorded",
            extra={
                "namespace": alert.monitor_namespace,
                "genre_monitor": alert.monitor_name,
                "alertname": alert.name,
                "request_id": request["id"],
                "fingerprint": alert.fingerprint,
            },
        )

    def _ignored(self, outcome: Outcome, alert: Alert, reason: str, detail: str) -> None:
        self.metrics.ignored.labels(reason=reason).inc()
        outcome.ignore(reason)
        level = {IGNORED_UNKNOWN_MONITOR: logging.WARNING, IGNORED_FORBIDDEN: logging.ERROR}.get(
            reason, logging.INFO
        )
        log.log(
            level,
            "alert ignored: %s",
            detail,
            extra={
                "reason": reason,
                "namespace": alert.monitor_namespace,
                "genre_monitor": alert.monitor_name,
                "alertname": alert.name,
                "status": alert.status,
                "fingerprint": alert.fingerprint,
            },
        )
