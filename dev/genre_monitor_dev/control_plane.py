"""Build the Kubernetes control plane the integration tests run, envtest-style.

No registry reached here ships a kube-apiserver binary, so ``ensure_built()``
compiles ``kube-apiserver`` and ``kube-controller-manager`` from the Go module
``k8s.io/kubernetes`` pinned in ``tests/cluster/go.mod``. The binaries go to a
cache outside the repository keyed by that version (a fresh clone on the same
machine, as CI makes, reuses them; a version bump rebuilds), and are linked
into ``.tools/bin``.

It also fetches the prometheus-operator CRDs from the Go module
``github.com/prometheus-operator/prometheus-operator`` (its module zip carries
them under ``example/``) into the same cache, so generated ServiceMonitors and
PrometheusRules are validated against the real schemas without a copy of those
files in this repository.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from genre_monitor_dev.paths import CACHE_DIR, REPO_ROOT
from genre_monitor_dev.tools import link_into_tools_bin, say

TOOLS_MODULE_DIR = REPO_ROOT / "tests" / "cluster"
COMMANDS = ("kube-apiserver", "kube-controller-manager")
# The node's Kubernetes half (genre_monitor_dev.node): built after the control
# plane, one at a time (2 cores), into the same version-keyed cache.
NODE_COMMANDS = ("kube-scheduler", "kube-proxy", "kubelet")

# CoreDNS, the cluster DNS a kind user has, from its own small module.
COREDNS_MODULE_DIR = TOOLS_MODULE_DIR / "coredns"

PROMETHEUS_OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator"
# The newest version of the root module the Go module proxy serves here
# (later ones answer 403); its CRDs match kube-prometheus-stack of that period.
PROMETHEUS_OPERATOR_VERSION = "v0.85.0"
# `-crd` rather than `-crd-full`: the full set also serves AlertmanagerConfig
# v1beta1, which needs the operator's conversion webhook, absent from tests.
PROMETHEUS_OPERATOR_CRD_DIR = "example/prometheus-operator-crd"


def pinned_version(module_dir: Path, module: str) -> str:
    """The version of ``module`` required by the go.mod in ``module_dir``: the one
    fact each build and cache key reads."""
    go_mod = module_dir / "go.mod"
    match = re.search(rf"^\s*{re.escape(module)}\s+(v\S+)", go_mod.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{go_mod}: no {module} requirement")
    return match.group(1)


def kubernetes_version() -> str:
    """The k8s.io/kubernetes version pinned in the tools module."""
    return pinned_version(TOOLS_MODULE_DIR, "k8s.io/kubernetes")


def binary_cache_dir() -> Path:
    return CACHE_DIR / "k8s" / kubernetes_version()


def prometheus_operator_crd_cache_dir() -> Path:
    return CACHE_DIR / "prometheus-operator" / PROMETHEUS_OPERATOR_VERSION


def go_env() -> dict[str, str]:
    """The environment for the go command: reproducible, and never a surprise download.

    GOFLAGS is replaced, not inherited, so a stray ``-mod=vendor`` or ``-mod=mod``
    in the caller's environment cannot change what is built: go.sum is the lock.
    GOTOOLCHAIN stays ``local`` unless the caller chose one (see the env notes:
    a newer Kubernetes line may need ``GOTOOLCHAIN=go1.27.x``).
    """
    env = dict(os.environ)
    env["GOFLAGS"] = "-mod=readonly -buildvcs=false -trimpath"
    env.setdefault("GOTOOLCHAIN", "local")
    env.setdefault("GOPATH", str(Path.home() / "go"))
    env.setdefault("CGO_ENABLED", "0")
    return env


def require_go() -> str:
    # /usr/local/go is where the machines here (and the official tarball) put Go,
    # which a non-login shell's PATH may lack.
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:
        raise RuntimeError("the go command is not on PATH: it builds kube-apiserver (see README)")
    return go


def ldflags() -> str:
    """Strip symbols (smaller binaries) and stamp the version Kubernetes' own build sets.

    Without the stamp the binaries report v0.0.0-master to clients (``/version``,
    ``kubectl version``); the -X flags change only the link step, not the compile cache.
    """
    version = kubernetes_version()
    major, minor = version.removeprefix("v").split(".")[:2]
    stamp = {
        "k8s.io/component-base/version.gitVersion": version,
        "k8s.io/component-base/version.gitMajor": major,
        "k8s.io/component-base/version.gitMinor": minor,
        "k8s.io/component-base/version.gitTreeState": "clean",
        "k8s.io/client-go/pkg/version.gitVersion": version,
        "k8s.io/client-go/pkg/version.gitMajor": major,
        "k8s.io/client-go/pkg/version.gitMinor": minor,
        "k8s.io/client-go/pkg/version.gitTreeState": "clean",
    }
    return " ".join(["-s", "-w", *(f"-X {var}={value}" for var, value in stamp.items())])


def build_command(name: str, dest: Path) -> None:
    """Build one command of k8s.io/kubernetes into dest, atomically, timing it."""
    tmp = dest.with_name(f".{dest.name}.partial")
    say(f"building {name} {kubernetes_version()} (cold: several minutes on 2 cores)")
    start = time.monotonic()
    subprocess.run(
        [
            require_go(),
            "build",
            f"-ldflags={ldflags()}",
            "-o",
            str(tmp),
            f"k8s.io/kubernetes/cmd/{name}",
        ],
        cwd=TOOLS_MODULE_DIR,
        env=go_env(),
        check=True,
    )
    tmp.replace(dest)
    # ru_maxrss of waited-for children: the largest single compile or link process.
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size_mb = dest.stat().st_size / 2**20
    say(
        f"built {name} in {time.monotonic() - start:.0f} s "
        f"({size_mb:.0f} MB; peak RSS of any build process so far {peak_mb:.0f} MB)"
    )


def ensure_binaries(commands: tuple[str, ...] = COMMANDS) -> dict[str, Path]:
    out_dir = binary_cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[str, Path] = {}
    for name in commands:
        dest = out_dir / name
        if dest.exists():
            say(f"{name} {kubernetes_version()} already built in {out_dir}")
        else:
            build_command(name, dest)
        link_into_tools_bin(name, dest)
        built[name] = dest
    return built


def download_go_module(module: str, version: str) -> Path:
    """The unpacked module directory, through the go command and the module proxy."""
    env = go_env()
    # Outside any module: go.sum of the tools module does not list this one.
    env["GOFLAGS"] = "-mod=mod"
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run(
            [require_go(), "mod", "download", "-json", f"{module}@{version}"],
            cwd=outside_any_module,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    info = json.loads(result.stdout) if result.stdout.strip() else {}
    if result.returncode != 0 or "Dir" not in info:
        raise RuntimeError(
            f"go mod download {module}@{version} failed: "
            f"{info.get('Error') or result.stderr.strip()}"
        )
    return Path(info["Dir"])


def ensure_prometheus_operator_crds() -> list[Path]:
    """Paths of the prometheus-operator CRD YAMLs, fetched once into the cache."""
    cache = prometheus_operator_crd_cache_dir()
    crds = sorted(cache.glob("*.yaml"))
    if crds:
        return crds
    say(f"fetching prometheus-operator {PROMETHEUS_OPERATOR_VERSION} CRDs from its Go module")
    source = download_go_module(PROMETHEUS_OPERATOR_MODULE, PROMETHEUS_OPERATOR_VERSION)
    source_crds = sorted((source / PROMETHEUS_OPERATOR_CRD_DIR).glob("*.yaml"))
    if not source_crds:
        raise RuntimeError(f"{source / PROMETHEUS_OPERATOR_CRD_DIR}: no CRD YAML found")
    partial = cache.with_name(f".{cache.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for crd in source_crds:
        shutil.copyfile(crd, partial / crd.name)
    partial.replace(cache)
    say(f"{len(source_crds)} prometheus-operator CRDs in {cache}")
    return sorted(cache.glob("*.yaml"))


def prometheus_operator_crd_paths() -> list[Path]:
    """The CRD files to install into a test cluster (fetching them if needed)."""
    return ensure_prometheus_operator_crds()


def coredns_version() -> str:
    """The github.com/coredns/coredns version pinned in its module."""
    return pinned_version(COREDNS_MODULE_DIR, "github.com/coredns/coredns")


def coredns_binary() -> Path:
    return CACHE_DIR / "coredns" / coredns_version() / "coredns"


def ensure_coredns() -> Path:
    """Build the coredns command (static: it runs in a Pod on a scratch-like image)."""
    dest = coredns_binary()
    if dest.exists():
        say(f"coredns {coredns_version()} already built in {dest.parent}")
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.partial")
        say(f"building coredns {coredns_version()} (cold: a few minutes on 2 cores)")
        start = time.monotonic()
        subprocess.run(
            [require_go(), "build", "-ldflags=-s -w", "-o", str(tmp),
             "github.com/coredns/coredns"],
            cwd=COREDNS_MODULE_DIR,
            env=go_env(),
            check=True,
        )
        tmp.replace(dest)
        say(f"built coredns in {time.monotonic() - start:.0f} s "
            f"({dest.stat().st_size / 2**20:.0f} MB)")
    link_into_tools_bin("coredns", dest)
    return dest


def ensure_node_binaries() -> dict[str, Path]:
    """kubelet, kube-scheduler, kube-proxy and coredns: what a node adds."""
    built = ensure_binaries(NODE_COMMANDS)
    built["coredns"] = ensure_coredns()
    return built


def ensure_built() -> None:
    """Idempotent: build what is missing, link it, fetch the CRDs; print progress.

    The control plane comes first: the integration tier needs only it.
    """
    ensure_binaries()
    ensure_prometheus_operator_crds()
    ensure_node_binaries()


if __name__ == "__main__":
    ensure_built()
