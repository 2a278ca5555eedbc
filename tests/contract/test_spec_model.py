"""The shared spec model against its source of truth, the CRD."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from genre_monitor import api
from genre_monitor.durations import DURATION_PATTERN
from genre_monitor.spec import DRIFT_METHODS, SpecError, parse_spec
from genre_monitor_dev.paths import REPO_ROOT

pytestmark = pytest.mark.unit

MINIMAL = {
    "reference": {"uri": "file:///data/reference.parquet"},
    "current": {"uri": "file:///data/current.parquet"},
    "columns": {"features": ["mfcc_1"], "prediction": "predicted_genre"},
}


def crd_spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load((REPO_ROOT / "crds" / "genremonitor.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]


def apply_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """Structural defaulting as the apiserver does it: a missing property with a
    default gets it, then defaulting recurses into what is there."""
    if schema.get("type") == "object" and isinstance(value, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                value[name] = apply_defaults(value[name], prop)
    elif schema.get("type") == "array" and isinstance(value, list) and "items" in schema:
        value = [apply_defaults(item, schema["items"]) for item in value]
    return value


def schema_properties(schema: dict[str, Any], path: str = "spec"):
    for name, prop in (schema.get("properties") or {}).items():
        yield f"{path}.{name}", prop
        yield from schema_properties(prop, f"{path}.{name}")


def test_model_defaults_equal_the_crds():
    defaulted_by_crd = apply_defaults(copy.deepcopy(MINIMAL), crd_spec_schema())
    defaulted_by_model = parse_spec(MINIMAL).model_dump(mode="json", by_alias=True)
    # The model holds None for what the CRD leaves unset; the CRD has no default there.
    assert _without_nulls(defaulted_by_model) == defaulted_by_crd


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def test_every_duration_field_uses_the_one_grammar():
    durations = {
        path: prop["pattern"]
        for path, prop in schema_properties(crd_spec_schema())
        if "pattern" in prop and "ms|s|m|h|d|w" in prop["pattern"]
    }
    assert len(durations) == 8, durations
    for path, pattern in durations.items():
        # spec.current.window also allows "" (no window).
        optional = "^(|" + DURATION_PATTERN.removeprefix("^").removesuffix("$") + ")$"
        assert pattern in (DURATION_PATTERN, optional), f"{path}: {pattern}"


def test_enums_are_the_contracts():
    properties = dict(schema_properties(crd_spec_schema()))
    assert tuple(properties["spec.drift.method"]["enum"]) == DRIFT_METHODS
    assert tuple(properties["spec.retrain.triggers"]["items"]["enum"]) == api.ALERT_NAMES


def test_the_exporter_computes_every_method():
    from genre_monitor_exporter import stats

    assert set(DRIFT_METHODS) - {"auto"} == set(stats.ALLOWED_KINDS)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"drift": {"method": "magic"}}, r"^spec\.drift\.method: expected one of 'auto'"),
        ({"drift": {"threshold": True}}, r"^spec\.drift\.threshold: expected a number, got True"),
        ({"evaluation": {"interval": "0s"}}, r"^spec\.evaluation\.interval: expected a positive"),
        ({"evaluation": {"interval": "1.5s"}}, r"^spec\.evaluation\.interval: expected a duration"),
        ({"retrain": {"triggers": ["Nope"]}}, r"^spec\.retrain\.triggers\.0: expected one of"),
        ({"alerts": {"accuracyMin": 2}}, r"^spec\.alerts\.accuracyMin: expected a value <= 1"),
        ({"columns": {"features": []}}, r"spec\.columns\.features: expected at least 1"),
        ({"columns": {"features": ["a"]}}, r"spec\.columns\.prediction: required"),
        ({"monitoring": []}, r"^spec\.monitoring: expected a mapping, got \[\]"),
    ],
)
def test_errors_name_the_field(patch, message):
    with pytest.raises(SpecError, match=message):
        parse_spec({**MINIMAL, **patch})


def test_every_crd_field_is_in_the_model():
    """A field added to the CRD but not to the model would be silently ignored."""
    model = parse_spec(MINIMAL).model_dump(by_alias=True)
    free_form = {
        "jobTemplate", "resources", "serviceMonitorLabels", "ruleLabels",
        "alertmanagerConfigLabels", "volumes", "volumeMounts", "env", "envFrom",
    }  # fmt: skip

    def walk(schema, dumped, path):
        for name, prop in (schema.get("properties") or {}).items():
            assert isinstance(dumped, dict) and name in dumped, f"{path}.{name} not in the model"
            if prop.get("type") == "object" and name not in free_form and dumped[name] is not None:
                walk(prop, dumped[name], f"{path}.{name}")

    walk(crd_spec_schema(), model, "spec")
