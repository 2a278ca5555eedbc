"""Does an object in the cluster still say what the operator wants it to say?

Pure. The apiserver adds defaults and fields of its own (status, uid,
clusterIP, probe schemes ...), so "unchanged" means every field the operator
sets has the value it sets: the desired manifest is a subset of the actual
object. Lists must match element by element (a list is owned as a whole).
"""

from __future__ import annotations

from typing import Any


def _scalar_equal(desired: Any, actual: Any) -> bool:
    if desired == actual:
        return True
    # int-or-string fields (quantities, ports by number) come back as strings.
    if isinstance(desired, int | float) and not isinstance(desired, bool):
        return isinstance(actual, str) and str(desired) == actual
    return False


def is_subset(desired: Any, actual: Any) -> bool:
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return False
        return all(key in actual and is_subset(value, actual[key])
                   for key, value in desired.items() if value is not None)
    if isinstance(desired, list):
        return (isinstance(actual, list) and len(desired) == len(actual)
                and all(is_subset(d, a) for d, a in zip(desired, actual, strict=True)))
    return _scalar_equal(desired, actual)


def needs_apply(desired: dict, actual: dict | None) -> bool:
    """True when the object is missing or differs in a field the operator sets."""
    if actual is None:
        return True
    return not (is_subset(desired.get("metadata", {}).get("labels", {}),
                          actual.get("metadata", {}).get("labels") or {})
                and is_subset(desired.get("metadata", {}).get("annotations", {}),
                              actual.get("metadata", {}).get("annotations") or {})
                and is_subset(desired.get("metadata", {}).get("ownerReferences", []),
                              actual.get("metadata", {}).get("ownerReferences") or [])
                and is_subset({k: v for k, v in desired.items() if k != "metadata"},
                              {k: v for k, v in actual.items() if k != "metadata"}))
