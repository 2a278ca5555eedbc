"""The CRD file: its facts agree with genre_monitor.api and the operator's defaults."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from genre_monitor import api
from genre_monitor.spec import DEFAULT_EXPORTER_RESOURCES, Severity
from genre_monitor_operator.spec import parse_monitor

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "crds" / "genremonitor.yaml"
CHART_CRD_PATH = ROOT / "charts" / "genre-monitor" / "crds" / "genremonitor.yaml"
EXAMPLES = sorted((ROOT / "crds" / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def crd() -> dict:
    return yaml.safe_load(CRD_PATH.read_text())


@pytest.fixture(scope="module")
def spec_schema(crd) -> dict:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def apply_defaults(schema: dict, value):
    """Structural defaulting as the apiserver does it (objects only, enough here)."""
    if schema.get("type") != "object" or not isinstance(value, dict):
        return value
    value = dict(value)
    for name, prop in (schema.get("properties") or {}).items():
        if name not in value and "default" in prop:
            value[name] = copy.deepcopy(prop["default"])
        if name in value:
            value[name] = apply_defaults(prop, value[name])
    return value


def test_chart_carries_an_identical_copy():
    assert CHART_CRD_PATH.read_text() == CRD_PATH.read_text()


def test_names_come_from_the_api_module(crd):
    names = crd["spec"]["names"]
    assert crd["metadata"]["name"] == api.CRD_NAME
    assert (crd["spec"]["group"], names["kind"], names["plural"], names["singular"]) == (
        api.GROUP, api.KIND, api.PLURAL, api.SINGULAR)
    assert tuple(names["shortNames"]) == api.SHORT_NAMES
    version = crd["spec"]["versions"][0]
    assert (version["name"], version["served"], version["storage"]) == (api.VERSION, True, True)
    assert version["subresources"] == {"status": {}}


def test_retrain_triggers_and_severities_are_the_alert_names(spec_schema):
    retrain = spec_schema["properties"]["retrain"]["properties"]
    assert tuple(retrain["triggers"]["items"]["enum"]) == api.ALERT_NAMES
    severity = spec_schema["properties"]["alerts"]["properties"]["severity"]["properties"]
    assert tuple(severity) == api.ALERT_NAMES
    assert {name: prop["default"] for name, prop in severity.items()} == Severity().by_alert


def test_operator_defaults_equal_the_crd_defaults(spec_schema):
    body = yaml.safe_load((ROOT / "crds" / "examples" / "minimal.yaml").read_text())
    body["metadata"].update(namespace="ns", uid="u")
    defaulted = copy.deepcopy(body)
    defaulted["spec"] = apply_defaults(spec_schema, body["spec"])
    assert defaulted["spec"]["exporter"]["resources"] == DEFAULT_EXPORTER_RESOURCES
    ours, theirs = parse_monitor(body), parse_monitor(defaulted)
    # exporter_spec is verbatim (it differs by the defaults written out); the rest is equal.
    assert {**vars(ours), "exporter_spec": None} == {**vars(theirs), "exporter_spec": None}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_match_the_schema(path, crd):
    import jsonschema

    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    document = yaml.safe_load(path.read_text())
    jsonschema.validate(document, schema)
    parse_monitor(document)


def test_every_printer_column_points_into_status_or_metadata(crd):
    columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == ["Ready", "Drifting", "Accuracy", "Drifted",
                                            "Last retrain", "Age"]
    assert all(c["jsonPath"].startswith((".status.", ".metadata.")) for c in columns)
