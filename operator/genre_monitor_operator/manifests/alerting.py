"""Routing this monitor's alerts to the webhook: an AlertmanagerConfig and,
for the project's own webhook, the monitor's namespace's token in a Secret
there (Alertmanager reads an AlertmanagerConfig's Secrets from its own
namespace). The token is derived from the chart's secret for this namespace
only (genre_monitor.webhook_token); the chart's secret is never copied."""

from __future__ import annotations

from dataclasses import dataclass

from genre_monitor import api
from genre_monitor_operator.manifests.common import (
    metadata,
    own_or_default,
    webhook_token_secret_name,
)
from genre_monitor_operator.operator_config import OperatorConfig
from genre_monitor_operator.spec import Monitor

COMPONENT = "alerting"
RECEIVER = "genre-monitor-webhook"


@dataclass(frozen=True)
class WebhookTarget:
    """Where alerts go and which Secret (in the monitor's namespace) has the token."""

    url: str
    secret_name: str
    secret_key: str
    # True: the operator writes the namespace's derived token into secret_name.
    copied: bool


def webhook_target(monitor: Monitor, config: OperatorConfig) -> WebhookTarget | None:
    """The monitor's own receiver, else the project's webhook, else none."""
    if monitor.webhook.url and monitor.webhook.token_secret_name:
        return WebhookTarget(
            monitor.webhook.url, monitor.webhook.token_secret_name,
            monitor.webhook.token_secret_key, copied=False,
        )
    if config.webhook_url and config.webhook_token_secret_name:
        return WebhookTarget(
            config.webhook_url, webhook_token_secret_name(monitor),
            config.webhook_token_secret_key, copied=True,
        )
    return None


def webhook_token_secret(monitor: Monitor, target: WebhookTarget, token_b64: str) -> dict:
    """The namespace's webhook token (base64), derived from the chart's secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(monitor, target.secret_name, COMPONENT),
        "type": "Opaque",
        "data": {target.secret_key: token_b64},
    }


def alertmanager_config(monitor: Monitor, config: OperatorConfig, target: WebhookTarget) -> dict:
    labels = own_or_default(monitor.monitoring.alertmanager_config_labels,
                            config.alertmanager_config_labels)
    hook = monitor.webhook
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": metadata(monitor, monitor.name, COMPONENT, labels),
        "spec": {
            "route": {
                "receiver": RECEIVER,
                "groupBy": ["alertname", api.ALERT_LABEL_MONITOR, api.ALERT_LABEL_NAMESPACE],
                "groupWait": hook.group_wait,
                "groupInterval": hook.group_interval,
                "repeatInterval": hook.repeat_interval,
                # prometheus-operator also prepends namespace=<this namespace>
                # (kube-prometheus-stack's OnNamespace strategy); stating it
                # keeps the route right under any strategy.
                "matchers": [
                    {"name": api.ALERT_LABEL_MONITOR, "value": monitor.name, "matchType": "="},
                    {"name": api.ALERT_LABEL_NAMESPACE, "value": monitor.namespace,
                     "matchType": "="},
                ],
            },
            "receivers": [
                {
                    "name": RECEIVER,
                    "webhookConfigs": [
                        {
                            "url": target.url,
                            "sendResolved": True,
                            "httpConfig": {
                                "authorization": {
                                    "type": "Bearer",
                                    "credentials": {
                                        "name": target.secret_name,
                                        "key": target.secret_key,
                                    },
                                }
                            },
                        }
                    ],
                }
            ],
        },
    }
