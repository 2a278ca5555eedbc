"""The desired children of a GenreMonitor, in the order they are applied.

Pure: the parsed monitor, the operator's configuration and what was read
from the cluster (the webhook token to copy) in, manifests out.
"""

from __future__ import annotations

from genre_monitor_operator.manifests.alerting import (
    WebhookTarget,
    alertmanager_config,
    webhook_token_secret,
)
from genre_monitor_operator.manifests.dashboard import dashboard_config_map
from genre_monitor_operator.manifests.exporter import (
    exporter_config_map,
    exporter_deployment,
    exporter_service,
)
from genre_monitor_operator.manifests.monitoring import prometheus_rule, service_monitor
from genre_monitor_operator.operator_config import OperatorConfig
from genre_monitor_operator.spec import Monitor


def wants_dashboard(monitor: Monitor, config: OperatorConfig) -> bool:
    if monitor.monitoring.dashboard is None:
        return config.dashboards_per_monitor
    return monitor.monitoring.dashboard


def desired_children(
    monitor: Monitor,
    config: OperatorConfig,
    webhook: WebhookTarget | None,
    copied_token_b64: str | None = None,
    dashboard_base: dict | None = None,
) -> list[dict]:
    """Everything the monitor owns except retraining Jobs.

    The ConfigMap precedes the Deployment that mounts it; the token Secret
    precedes the AlertmanagerConfig that refers to it.
    """
    config_map = exporter_config_map(monitor)
    children = [
        config_map,
        exporter_deployment(monitor, config, config_map),
        exporter_service(monitor),
        service_monitor(monitor, config),
        prometheus_rule(monitor, config),
    ]
    if webhook is not None:
        if webhook.copied and copied_token_b64 is not None:
            children.append(webhook_token_secret(monitor, webhook, copied_token_b64))
        children.append(alertmanager_config(monitor, config, webhook))
    if wants_dashboard(monitor, config):
        children.append(dashboard_config_map(monitor, config, dashboard_base))
    return children
