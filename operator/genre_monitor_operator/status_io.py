"""Writing a GenreMonitor's status safely (I/O).

The webhook writes status.retrain.pendingRequest while the operator writes
the rest, so every write is a merge patch conditioned on the resourceVersion
it was computed from; on a conflict the status is re-read and recomputed.
"""

from __future__ import annotations

from collections.abc import Callable

from kubernetes.client.rest import ApiException

from genre_monitor_operator.kube import Kube

StatusCompute = Callable[[dict], dict | None]


class StatusConflictError(RuntimeError):
    pass


def update_status(kube: Kube, body: dict, compute: StatusCompute, attempts: int = 8) -> dict | None:
    """Apply compute(body) -> status patch (None: nothing to write) to the monitor.

    Returns the patched monitor, or None when nothing was written or it is gone.
    """
    meta = body.get("metadata") or {}
    namespace, name = meta["namespace"], meta["name"]
    current: dict | None = body
    for _ in range(attempts):
        if current is None:
            return None
        patch = compute(current)
        if not patch:
            return None
        try:
            return kube.patch_monitor_status(
                namespace, name, current["metadata"]["resourceVersion"], patch
            )
        except ApiException as error:
            if error.status == 404:
                return None
            if error.status != 409:
                raise
        current = kube.get_monitor(namespace, name)
    raise StatusConflictError(f"GenreMonitor {namespace}/{name}: status kept changing under us")
