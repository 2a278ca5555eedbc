"""Translate prometheus-operator objects into native Prometheus/Alertmanager config.

On a cluster, prometheus-operator turns ServiceMonitors, PrometheusRules and
AlertmanagerConfigs into the configuration of the Prometheus and Alertmanager
it runs. The local demo has no prometheus-operator, so this module does the
same translation for the subset of fields genre-monitor generates, following
the operator's conventions (job names, the ``namespace`` matcher it enforces
on AlertmanagerConfig routes, receiver names prefixed with namespace/name).
Pure functions: the caller resolves targets and Secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Resolves a Secret reference: (namespace, name, key) -> the value. Like
# prometheus-operator, an AlertmanagerConfig only reads its own namespace's Secrets.
SecretResolver = Callable[[str, str, str], str]


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def relabel_config(relabeling: dict) -> dict:
    """A ServiceMonitor relabeling (camelCase) as a Prometheus relabel_config."""
    return {snake_case(key): value for key, value in relabeling.items()}


def scrape_configs_from_service_monitor(
    service_monitor: dict, service_name: str, targets: list[str]
) -> list[dict]:
    """One scrape job per endpoint of the ServiceMonitor, scraping ``targets``.

    ``targets`` stand for the endpoints of the selected Service (the demo runs
    the exporter as a local process instead of a Pod).
    """
    meta = service_monitor["metadata"]
    namespace = meta["namespace"]
    jobs = []
    for index, endpoint in enumerate(service_monitor["spec"].get("endpoints", [])):
        labels = {
            "namespace": namespace,
            "service": service_name,
            "endpoint": str(endpoint.get("port", index)),
        }
        job: dict = {
            "job_name": f"serviceMonitor/{namespace}/{meta['name']}/{index}",
            "metrics_path": endpoint.get("path", "/metrics"),
            "scheme": endpoint.get("scheme", "http"),
            "static_configs": [{"targets": targets, "labels": labels}],
            # prometheus-operator sets job to the Service name unless jobLabel says otherwise.
            "relabel_configs": [
                {"target_label": "job", "replacement": service_name},
                *(relabel_config(r) for r in endpoint.get("relabelings", [])),
            ],
        }
        if "interval" in endpoint:
            job["scrape_interval"] = endpoint["interval"]
        if "scrapeTimeout" in endpoint:
            job["scrape_timeout"] = endpoint["scrapeTimeout"]
        if endpoint.get("metricRelabelings"):
            job["metric_relabel_configs"] = [
                relabel_config(r) for r in endpoint["metricRelabelings"]
            ]
        jobs.append(job)
    return jobs


def rule_file_from_prometheus_rule(rule: dict) -> dict:
    """A PrometheusRule's spec is already a Prometheus rule file."""
    return {"groups": rule["spec"].get("groups", [])}


def matcher_string(matcher: dict) -> str:
    operator = matcher.get("matchType") or ("=~" if matcher.get("regex") else "=")
    value = str(matcher.get("value", "")).replace('"', '\\"')
    return f'{matcher["name"]}{operator}"{value}"'


def receiver_name(config: dict, name: str) -> str:
    meta = config["metadata"]
    return f"{meta['namespace']}/{meta['name']}/{name}"


def route_from_alertmanager_config(config: dict) -> dict:
    """The AlertmanagerConfig's route as a child route of the global one.

    Like prometheus-operator's default (OnNamespace) strategy, it only matches
    alerts whose ``namespace`` label is the AlertmanagerConfig's namespace.
    """
    namespace = config["metadata"]["namespace"]

    def convert(route: dict, top: bool) -> dict:
        result: dict = {}
        if "receiver" in route:
            result["receiver"] = receiver_name(config, route["receiver"])
        matchers = [matcher_string(m) for m in route.get("matchers", [])]
        if top:
            matchers.append(f'namespace="{namespace}"')
            result["continue"] = True
        elif route.get("continue"):
            result["continue"] = True
        if matchers:
            result["matchers"] = matchers
        for key in ("groupBy", "groupWait", "groupInterval", "repeatInterval"):
            if key in route:
                result[snake_case(key)] = route[key]
        if route.get("routes"):
            result["routes"] = [convert(child, top=False) for child in route["routes"]]
        return result

    return convert(config["spec"]["route"], top=True)


def webhook_config(webhook: dict, namespace: str, resolve_secret: SecretResolver) -> dict:
    result: dict = {"send_resolved": webhook.get("sendResolved", True)}
    if "url" in webhook:
        result["url"] = webhook["url"]
    elif "urlSecret" in webhook:
        url = webhook["urlSecret"]
        result["url"] = resolve_secret(namespace, url["name"], url["key"])
    if "maxAlerts" in webhook:
        result["max_alerts"] = webhook["maxAlerts"]
    authorization = webhook.get("httpConfig", {}).get("authorization")
    if authorization:
        credentials = authorization["credentials"]
        result["http_config"] = {
            "authorization": {
                "type": authorization.get("type", "Bearer"),
                "credentials": resolve_secret(namespace, credentials["name"], credentials["key"]),
            }
        }
    return result


def receivers_from_alertmanager_config(config: dict, resolve_secret: SecretResolver) -> list:
    namespace = config["metadata"]["namespace"]
    receivers = []
    for receiver in config["spec"].get("receivers", []):
        native: dict = {"name": receiver_name(config, receiver["name"])}
        webhooks = [
            webhook_config(w, namespace, resolve_secret) for w in receiver.get("webhookConfigs", [])
        ]
        if webhooks:
            native["webhook_configs"] = webhooks
        receivers.append(native)
    return receivers


def alertmanager_config(
    alertmanager_configs: list[dict],
    resolve_secret: SecretResolver,
    group_wait: str = "0s",
    group_interval: str = "1s",
) -> dict:
    """A whole Alertmanager configuration: a null root receiver plus one
    sub-route and its receivers per AlertmanagerConfig."""
    routes, receivers = [], [{"name": "null"}]
    for config in alertmanager_configs:
        routes.append(route_from_alertmanager_config(config))
        receivers.extend(receivers_from_alertmanager_config(config, resolve_secret))
    return {
        "route": {
            "receiver": "null",
            "group_by": ["namespace"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": "12h",
            "routes": routes,
        },
        "receivers": receivers,
    }
