"""Is a pod spec within a Pod Security Standard? (pure)

A GenreMonitor carries pod specs the operator turns into workloads: the
retraining Job's template and the exporter's extra volumes. The operator
holds rights its users may lack, so it must not create for them a Pod they
could not have created themselves: whatever is outside the configured level
(the chart's ``operator.podSecurityLevel``, "restricted" unless opted out) is
refused, each violation naming its field.

The checks follow https://kubernetes.io/docs/concepts/security/pod-security-standards/
("baseline" forbids the known privilege escalations; "restricted" adds the
hardening rules). ``with_restricted_defaults`` fills what "restricted"
requires to be *set* (seccomp, no privilege escalation, dropped capabilities,
non-root) where the user left it unset, so only an explicit contrary setting
is refused.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

RESTRICTED, BASELINE, PRIVILEGED = "restricted", "baseline", "privileged"
LEVELS = (RESTRICTED, BASELINE, PRIVILEGED)

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t",
                           "container_engine_t"})
RESTRICTED_VOLUME_TYPES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                     "persistentVolumeClaim", "projected", "secret"})
SECCOMP_TYPES = ("RuntimeDefault", "Localhost")
APPARMOR_TYPES = ("RuntimeDefault", "Localhost")
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class Violation:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def describe(violations: list[Violation], level: str) -> str:
    """One message for a condition: every violation, and how to allow them."""
    return (f"{'; '.join(str(v) for v in violations)} (outside the Pod Security "
            f"{level!r} profile the operator enforces; an administrator may relax it "
            "with the chart's operator.podSecurityLevel)")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list:
    return value if isinstance(value, list) else []


def _containers(spec: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in CONTAINER_LISTS:
        for index, container in enumerate(_items(spec.get(key))):
            yield f"{path}.{key}[{index}]", _mapping(container)


def _security_contexts(spec: Mapping[str, Any], path: str
                       ) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The pod's securityContext and every container's, with their paths."""
    yield f"{path}.securityContext", _mapping(spec.get("securityContext"))
    for container_path, container in _containers(spec, path):
        yield f"{container_path}.securityContext", _mapping(container.get("securityContext"))


def _baseline(spec: Mapping[str, Any], path: str) -> Iterator[Violation]:
    for field in HOST_NAMESPACES:
        if spec.get(field) is True:
            yield Violation(f"{path}.{field}", "host namespaces are not allowed")
    for context_path, context in _security_contexts(spec, path):
        if _mapping(context.get("windowsOptions")).get("hostProcess") is True:
            yield Violation(f"{context_path}.windowsOptions.hostProcess",
                            "host processes are not allowed")
        seccomp = _mapping(context.get("seccompProfile")).get("type")
        if seccomp == "Unconfined":
            yield Violation(f"{context_path}.seccompProfile.type", "Unconfined is not allowed")
        apparmor = _mapping(context.get("appArmorProfile")).get("type")
        if apparmor is not None and apparmor not in APPARMOR_TYPES:
            yield Violation(f"{context_path}.appArmorProfile.type",
                            f"{apparmor!r} is not allowed (only RuntimeDefault or Localhost)")
        selinux = _mapping(context.get("seLinuxOptions"))
        if selinux.get("type", "") not in SELINUX_TYPES:
            yield Violation(f"{context_path}.seLinuxOptions.type",
                            f"{selinux.get('type')!r} is not allowed")
        for field in ("user", "role"):
            if selinux.get(field):
                yield Violation(f"{context_path}.seLinuxOptions.{field}", "must not be set")
    for index, sysctl in enumerate(_items(_mapping(spec.get("securityContext")).get("sysctls"))):
        name = _mapping(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            yield Violation(f"{path}.securityContext.sysctls[{index}].name",
                            f"{name!r} is not a safe sysctl")
    for container_path, container in _containers(spec, path):
        context = _mapping(container.get("securityContext"))
        if context.get("privileged") is True:
            yield Violation(f"{container_path}.securityContext.privileged",
                            "privileged containers are not allowed")
        if context.get("procMount") not in (None, "Default"):
            yield Violation(f"{container_path}.securityContext.procMount",
                            f"{context.get('procMount')!r} is not allowed (only Default)")
        added = _items(_mapping(context.get("capabilities")).get("add"))
        for index, capability in enumerate(added):
            if capability not in BASELINE_CAPABILITIES:
                yield Violation(f"{container_path}.securityContext.capabilities.add[{index}]",
                                f"adding {capability!r} is not allowed")
        for index, port in enumerate(_items(container.get("ports"))):
            if _mapping(port).get("hostPort") not in (None, 0):
                yield Violation(f"{container_path}.ports[{index}].hostPort",
                                "host ports are not allowed")
    for index, volume in enumerate(_items(spec.get("volumes"))):
        if "hostPath" in _mapping(volume):
            yield Violation(f"{path}.volumes[{index}].hostPath", "hostPath volumes are not allowed")


def _restricted(spec: Mapping[str, Any], path: str) -> Iterator[Violation]:
    for index, volume in enumerate(_items(spec.get("volumes"))):
        for kind in sorted(set(_mapping(volume)) - {"name"} - RESTRICTED_VOLUME_TYPES):
            if kind != "hostPath":  # already said by the baseline check
                yield Violation(f"{path}.volumes[{index}].{kind}",
                                f"{kind} volumes are not allowed (only "
                                f"{', '.join(sorted(RESTRICTED_VOLUME_TYPES))})")
    pod_context = _mapping(spec.get("securityContext"))
    pod_non_root = pod_context.get("runAsNonRoot")
    pod_seccomp = _mapping(pod_context.get("seccompProfile")).get("type")
    if pod_non_root is False:
        yield Violation(f"{path}.securityContext.runAsNonRoot", "must not be false")
    if pod_context.get("runAsUser") == 0:
        yield Violation(f"{path}.securityContext.runAsUser", "running as root (0) is not allowed")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_TYPES and pod_seccomp != "Unconfined":
        yield Violation(f"{path}.securityContext.seccompProfile.type",
                        f"{pod_seccomp!r} is not allowed (only RuntimeDefault or Localhost)")
    for container_path, container in _containers(spec, path):
        at = f"{container_path}.securityContext"
        context = _mapping(container.get("securityContext"))
        if context.get("allowPrivilegeEscalation") is not False:
            yield Violation(f"{at}.allowPrivilegeEscalation", "must be false")
        non_root = context.get("runAsNonRoot")
        if non_root is False:
            yield Violation(f"{at}.runAsNonRoot", "must not be false")
        elif non_root is None and pod_non_root is not True:
            yield Violation(f"{at}.runAsNonRoot",
                            "must be true here or in the pod's securityContext")
        if context.get("runAsUser") == 0:
            yield Violation(f"{at}.runAsUser", "running as root (0) is not allowed")
        seccomp = _mapping(context.get("seccompProfile")).get("type")
        if seccomp is None and pod_seccomp is None:
            yield Violation(f"{at}.seccompProfile.type",
                            "must be RuntimeDefault or Localhost here or in the pod's "
                            "securityContext")
        elif seccomp is not None and seccomp not in SECCOMP_TYPES and seccomp != "Unconfined":
            yield Violation(f"{at}.seccompProfile.type",
                            f"{seccomp!r} is not allowed (only RuntimeDefault or Localhost)")
        capabilities = _mapping(context.get("capabilities"))
        if "ALL" not in _items(capabilities.get("drop")):
            yield Violation(f"{at}.capabilities.drop", "must include ALL")
        for index, capability in enumerate(_items(capabilities.get("add"))):
            if capability in BASELINE_CAPABILITIES - RESTRICTED_CAPABILITIES:
                yield Violation(f"{at}.capabilities.add[{index}]",
                                f"adding {capability!r} is not allowed (only NET_BIND_SERVICE)")


def pod_spec_violations(spec: Any, path: str, level: str = RESTRICTED) -> list[Violation]:
    """Every field of this pod spec outside ``level``; ``path`` is where the spec sits."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r} (expected one of {LEVELS})")
    if level == PRIVILEGED:
        return []
    spec = _mapping(spec)
    found = list(_baseline(spec, path))
    if level == RESTRICTED:
        found += _restricted(spec, path)
    return found


def pod_template_violations(template: Any, path: str, level: str = RESTRICTED
                            ) -> list[Violation]:
    """A pod template (metadata + spec): the spec's violations, and AppArmor
    annotations that unconfine a container."""
    template = _mapping(template)
    found: list[Violation] = []
    if level != PRIVILEGED:
        annotations = _mapping(_mapping(template.get("metadata")).get("annotations"))
        for key, value in sorted(annotations.items()):
            if key.startswith(APPARMOR_ANNOTATION) and not (
                    value == "runtime/default" or str(value).startswith("localhost/")):
                found.append(Violation(f"{path}.metadata.annotations[{key}]",
                                       f"AppArmor profile {value!r} is not allowed"))
    return found + pod_spec_violations(template.get("spec"), f"{path}.spec", level)


def with_restricted_defaults(spec: Mapping[str, Any]) -> dict:
    """A copy of the pod spec with what "restricted" requires set where it was unset:
    the pod runs as non-root with the runtime's seccomp profile, and every container
    drops all capabilities and cannot escalate privileges. Values set explicitly
    are kept (a contrary one is then reported by ``pod_spec_violations``)."""
    spec = copy.deepcopy(dict(spec))
    pod_context = spec.get("securityContext")
    if not isinstance(pod_context, dict):
        pod_context = spec["securityContext"] = {}
    pod_context.setdefault("runAsNonRoot", True)
    pod_context.setdefault("seccompProfile", {"type": "RuntimeDefault"})
    for key in CONTAINER_LISTS:
        for container in _items(spec.get(key)):
            if not isinstance(container, dict):
                continue
            context = container.get("securityContext")
            if not isinstance(context, dict):
                context = container["securityContext"] = {}
            context.setdefault("allowPrivilegeEscalation", False)
            capabilities = context.get("capabilities")
            if not isinstance(capabilities, dict):
                capabilities = context["capabilities"] = {}
            drop = capabilities.get("drop")
            if not isinstance(drop, list):
                drop = capabilities["drop"] = []
            if "ALL" not in drop:
                drop.append("ALL")
    return spec
