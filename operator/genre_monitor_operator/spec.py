"""Read a GenreMonitor body: its identity plus the shared spec model.

The apiserver has already validated and defaulted the spec against the CRD
schema; ``genre_monitor.spec`` parses it (with the same defaults, for bodies
that never went through an apiserver). What the schema cannot know (a
referenced Secret is missing, a Job template the apiserver will refuse) is
found later and reported as Ready=False, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genre_monitor import spec as spec_model
from genre_monitor.spec import EXPORTER_SECTIONS, GenreMonitorSpec


class SpecError(ValueError):
    """A GenreMonitor the operator cannot act on; reason is a CamelCase condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Monitor:
    name: str
    namespace: str
    uid: str
    generation: int
    spec: GenreMonitorSpec
    # The spec sections the exporter reads, verbatim (its ConfigMap).
    exporter_spec: Mapping[str, Any] = field(repr=False, default_factory=dict)

    # Shorthands for what the manifests read most.
    @property
    def alerts(self) -> spec_model.Alerts:
        return self.spec.alerts

    @property
    def retrain(self) -> spec_model.Retrain:
        return self.spec.retrain

    @property
    def exporter(self) -> spec_model.Exporter:
        return self.spec.exporter

    @property
    def monitoring(self) -> spec_model.Monitoring:
        return self.spec.monitoring

    @property
    def webhook(self) -> spec_model.Webhook:
        return self.spec.webhook

    @property
    def reference_uri(self) -> str:
        return self.spec.reference.uri

    @property
    def current_uri(self) -> str:
        return self.spec.current.uri

    @property
    def target(self) -> str | None:
        return self.spec.columns.target or None

    @property
    def max_drifted_features(self) -> int:
        return self.spec.drift.max_drifted_features

    @property
    def evaluation_interval_seconds(self) -> float:
        return self.spec.evaluation.interval_seconds


def parse_monitor(body: Mapping[str, Any]) -> Monitor:
    """The typed view of a GenreMonitor; SpecError names the field that is wrong."""
    metadata = body.get("metadata") or {}
    spec = body.get("spec")
    try:
        model = spec_model.parse_spec(spec)
    except spec_model.SpecError as error:
        raise SpecError("InvalidSpec", str(error)) from None
    return Monitor(
        name=metadata.get("name", ""),
        namespace=metadata.get("namespace", ""),
        uid=metadata.get("uid", ""),
        generation=int(metadata.get("generation") or 0),
        spec=model,
        exporter_spec={key: spec[key] for key in EXPORTER_SECTIONS if key in spec},
    )
