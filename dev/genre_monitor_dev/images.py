"""Build the project's images with buildah and load them into a node's containerd.

No image registry is reachable here, so nothing is pulled:

- the ``python:3.11-slim`` base is a Debian bookworm root file system made by
  mmdebstrap (Python 3.11, as in the official image), cached as a tar under
  ``~/.cache/genre-monitor/images`` and committed to buildah's storage under the
  official name, so the Dockerfiles build unchanged with ``--pull=never``;
- the sandbox ("pause") image and the CoreDNS image are one static Go binary
  each on an empty root;
- the three Dockerfiles build with buildah's layer cache (``--layers``): an
  unchanged dependency layer is reused and a code change rebuilds in seconds.

TLS to the package registries goes through a CA only the host trusts, so a
build sees the host's ``/etc/ssl/certs`` and ``/etc/pip.conf`` through
read-only build-time mounts (``buildah bud -v``); mounts are never part of a
layer, so neither ends up in an image.

``python -m genre_monitor_dev.images`` builds everything and, given
``--containerd-socket``, loads it into that containerd (``make images``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from genre_monitor_dev.paths import CACHE_DIR, REPO_ROOT

BASE_IMAGE = "docker.io/library/python:3.11-slim"
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
# What the official slim image leaves out too: documentation and translations.
BASE_DPKG_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)
# The host's apt sources: the mirror this machine is allowed to reach, so its
# name is read at run time and never written into this repository.
HOST_APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
# The mirror here serves a frozen snapshot whose Release files are "expired".
BASE_APT_OPTIONS = ('Acquire::Check-Valid-Until "false"', 'Acquire::Check-Date "false"')

PAUSE_IMAGE = "localhost/genre-monitor/pause:1"
COREDNS_IMAGE_REPO = "localhost/genre-monitor/coredns"
# The chart's default repositories, so `helm install` needs only a tag.
PROJECT_IMAGE_REPO = "ghcr.io/genre-monitor/genre-monitor-{component}"
PROJECT_IMAGE_TAG = "dev"
COMPONENTS = ("operator", "exporter", "webhook")

# Build-time only mounts (see the module docstring).
BUILD_MOUNTS = ("/etc/ssl/certs:/etc/ssl/certs:ro", "/etc/pip.conf:/etc/pip.conf:ro")

# The pause container: sleeps until told to stop, and reaps nothing (the
# kubelet does not share a PID namespace here). SIGTERM/SIGINT end it at once.
PAUSE_SOURCE = """package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
"""


def say(message: str) -> None:
    print(f"[images] {message}", flush=True)


def images_cache_dir() -> Path:
    return CACHE_DIR / "images"


def require(command: str) -> str:
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(f"{command} is not installed: run `make tools` (Debian package)")
    return found


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


# ------------------------------------------------------------------ base image


def base_key() -> str:
    """What the base tar depends on; a change makes a new tar (old ones stay cached)."""
    recipe = json.dumps([BASE_SUITE, BASE_PACKAGES, BASE_DPKG_EXCLUDES, "minbase"])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def base_tar() -> Path:
    return images_cache_dir() / f"{BASE_SUITE}-python3-{base_key()}.tar"


def ensure_base_tar() -> Path:
    """The Debian root file system as a tar, made once by mmdebstrap (~1 minute)."""
    tar = base_tar()
    if tar.exists():
        return tar
    if not HOST_APT_SOURCES.exists():
        raise RuntimeError(f"{HOST_APT_SOURCES} missing: mmdebstrap needs the host's apt mirror")
    tar.parent.mkdir(parents=True, exist_ok=True)
    partial = tar.with_name(f".{tar.name}.partial")
    say(f"making the {BASE_SUITE} base with mmdebstrap ({', '.join(BASE_PACKAGES)})")
    start = time.monotonic()
    argv = [
        require("mmdebstrap"),
        "--quiet",
        "--variant=minbase",
        "--mode=root",
        "--format=tar",
        f"--include={','.join(BASE_PACKAGES)}",
        *(f"--aptopt={option}" for option in BASE_APT_OPTIONS),
        *(f"--dpkgopt={option}" for option in BASE_DPKG_EXCLUDES),
        BASE_SUITE,
        str(partial),
        str(HOST_APT_SOURCES),
    ]
    run(argv, stdin=subprocess.DEVNULL)
    partial.replace(tar)
    say(f"base tar {tar} ({tar.stat().st_size / 2**20:.0f} MB) in {time.monotonic() - start:.0f} s")
    return tar


def image_label(image: str, label: str) -> str | None:
    """A label of an image in buildah's storage; None when the image is absent."""
    result = subprocess.run(
        [require("buildah"), "inspect", "--type", "image", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    config = json.loads(result.stdout).get("OCIv1", {}).get("config", {})
    return (config.get("Labels") or {}).get(label, "")


KEY_LABEL = "io.genre-monitor.dev.key"


def commit_from_root(image: str, key: str, add: list[tuple[Path, str]], config: list[str]) -> None:
    """Commit a new image from an empty root plus files (a tar is unpacked by `buildah add`)."""
    buildah = require("buildah")
    container = run(
        [buildah, "from", "--pull=never", "scratch"], capture_output=True, text=True
    ).stdout.strip()
    try:
        for source, dest in add:
            run([buildah, "add", "--quiet", container, str(source), dest],
                stdout=subprocess.DEVNULL)
        run([buildah, "config", f"--label={KEY_LABEL}={key}", *config, container])
        run([buildah, "commit", "--quiet", "--rm", container, image], stdout=subprocess.DEVNULL)
    except BaseException:
        subprocess.run([buildah, "rm", container], capture_output=True, check=False)
        raise


def ensure_base_image() -> str:
    """docker.io/library/python:3.11-slim in buildah's storage, from the cached tar."""
    key = base_key()
    if image_label(BASE_IMAGE, KEY_LABEL) == key:
        return BASE_IMAGE
    tar = ensure_base_tar()
    start = time.monotonic()
    commit_from_root(
        BASE_IMAGE,
        key,
        [(tar, "/")],
        [
            "--env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env=LANG=C.UTF-8",
            "--cmd=python3",
        ],
    )
    say(f"committed {BASE_IMAGE} in {time.monotonic() - start:.0f} s")
    return BASE_IMAGE


# ------------------------------------------------------ pause and CoreDNS images


def build_pause_binary(dest: Path) -> None:
    from genre_monitor_dev.control_plane import go_env, require_go

    with tempfile.TemporaryDirectory() as module:
        Path(module, "go.mod").write_text("module genre-monitor/pause\n\ngo 1.22\n")
        Path(module, "main.go").write_text(PAUSE_SOURCE)
        run([require_go(), "build", "-ldflags=-s -w", "-o", str(dest), "."],
            cwd=module, env=go_env())


def single_binary_image(image: str, key: str, binary: Path, user: str) -> str:
    """``image``: one static binary at its absolute path as the entrypoint (an
    empty root has no PATH to search), rebuilt only when ``key`` changes."""
    if image_label(image, KEY_LABEL) != key:
        entrypoint = f"/{binary.name}"
        commit_from_root(image, key, [(binary, entrypoint)],
                         [f'--entrypoint=["{entrypoint}"]', f"--user={user}"])
        say(f"built {image}")
    return image


def ensure_pause_image() -> str:
    key = hashlib.sha256(PAUSE_SOURCE.encode()).hexdigest()[:12]
    if image_label(PAUSE_IMAGE, KEY_LABEL) == key:
        return PAUSE_IMAGE
    with tempfile.TemporaryDirectory() as build:
        binary = Path(build, "pause")
        build_pause_binary(binary)
        return single_binary_image(PAUSE_IMAGE, key, binary, "65535:65535")


def coredns_image() -> str:
    from genre_monitor_dev.control_plane import coredns_version

    return f"{COREDNS_IMAGE_REPO}:{coredns_version()}"


def ensure_coredns_image() -> str:
    from genre_monitor_dev.control_plane import ensure_coredns

    binary = ensure_coredns()
    key = hashlib.sha256(binary.read_bytes()).hexdigest()[:12]
    return single_binary_image(coredns_image(), key, binary, "65532:65532")


# --------------------------------------------------------------- project images


def project_image(component: str) -> str:
    return f"{PROJECT_IMAGE_REPO.format(component=component)}:{PROJECT_IMAGE_TAG}"


@dataclass
class BuildResult:
    image: str
    seconds: float
    size: str


def image_size(image: str) -> str:
    """buildah's own rendering of the image's unpacked size, e.g. "1.17 GB"."""
    result = run(
        [require("buildah"), "images", "--format", "{{.Size}}", image],
        capture_output=True, text=True,
    )
    return result.stdout.strip()


def context_files() -> list[Path] | None:
    """The build context's files (git's view, untracked ones included, less
    .dockerignore's top-level entries); None outside a git checkout."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, check=False,
    )
    if listing.returncode != 0:
        return None
    ignore = REPO_ROOT / ".dockerignore"
    ignored = {line.strip().rstrip("/") for line in ignore.read_text().splitlines()
               if line.strip() and not line.startswith("#") and "*" not in line}
    names = sorted(name for name in listing.stdout.decode().split("\0") if name)
    return [REPO_ROOT / name for name in names
            if name.split("/")[0] not in ignored and (REPO_ROOT / name).is_file()]


def build_key(component: str) -> str | None:
    """What an image is built from: base, Dockerfile and context; None when unknown."""
    files = context_files()
    if files is None:
        return None
    digest = hashlib.sha256(base_key().encode())
    digest.update((REPO_ROOT / component / "Dockerfile").read_bytes())
    for path in files:
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_project_image(component: str) -> BuildResult:
    """buildah bud of <component>/Dockerfile with the repository as context.

    Skipped when the image was built from the same base, Dockerfile and
    context (a label says so): buildah's own cache check of an unchanged
    build still checksums the gigabyte venv the exporter copies (about 40 s).
    """
    ensure_base_image()
    image = project_image(component)
    key = build_key(component)
    if key is not None and image_label(image, KEY_LABEL) == key:
        say(f"{image} up to date ({image_size(image)})")
        return BuildResult(image, 0.0, image_size(image))
    say(f"building {image} from {component}/Dockerfile")
    start = time.monotonic()
    run(
        [
            require("buildah"),
            "bud",
            "--quiet",
            "--pull=never",
            "--layers",
            "--network=host",
            *(f"--volume={mount}" for mount in BUILD_MOUNTS),
            *([f"--label={KEY_LABEL}={key}"] if key else []),
            "--file",
            str(REPO_ROOT / component / "Dockerfile"),
            "--tag",
            image,
            str(REPO_ROOT),
        ],
        stdout=subprocess.DEVNULL,
    )
    result = BuildResult(image, time.monotonic() - start, image_size(image))
    say(f"built {image} in {result.seconds:.0f} s ({result.size})")
    return result


# ---------------------------------------------------------- loading into a node


LOADED_LABEL = "io.genre-monitor.dev.buildah-id"


def buildah_image_id(image: str) -> str:
    return run([require("buildah"), "images", "--no-trunc", "--format", "{{.ID}}", image],
               capture_output=True, text=True).stdout.strip()


def loaded_id(ctr_argv: list[str], image: str) -> str:
    """The buildah image ID a containerd image was imported from ("" if absent)."""
    listing = subprocess.run([*ctr_argv, "images", "ls", f"name=={image}"],
                             capture_output=True, text=True, check=False).stdout
    for line in listing.splitlines()[1:]:
        for label in line.split()[-1].split(","):
            key, _, value = label.partition("=")
            if key == LOADED_LABEL:
                return value
    return ""


def load_into_containerd(images: list[str], socket: Path, namespace: str = "k8s.io") -> None:
    """buildah push to an OCI archive, then `ctr images import` into the node's containerd.

    An image already imported from the same buildah image (a label on the
    containerd image says which) is skipped: the node's image store persists
    between starts, as on any node, and a gigabyte import takes minutes here.
    """
    buildah = require("buildah")
    ctr = [require("ctr"), "--address", str(socket), "--namespace", namespace]
    with tempfile.TemporaryDirectory(dir=images_cache_dir()) as scratch:
        for image in images:
            image_id = buildah_image_id(image)
            if loaded_id(ctr, image) == image_id:
                continue
            start = time.monotonic()
            archive = Path(scratch, "image.tar")
            # Uncompressed: the archive lives for one import, and gzip of a
            # gigabyte of layers would cost more than the import itself.
            run([buildah, "push", "--quiet", "--disable-compression", image,
                 f"oci-archive:{archive}:{image}"], stdout=subprocess.DEVNULL)
            run([*ctr, "images", "import", str(archive)], stdout=subprocess.DEVNULL)
            run([*ctr, "images", "label", image, f"{LOADED_LABEL}={image_id}"],
                stdout=subprocess.DEVNULL)
            archive.unlink()
            say(f"loaded {image} into {socket} in {time.monotonic() - start:.1f} s")


def node_images() -> list[str]:
    """What every node needs before the first Pod: the sandbox and DNS images."""
    return [ensure_pause_image(), ensure_coredns_image()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("components", nargs="*", default=list(COMPONENTS))
    parser.add_argument("--containerd-socket", type=Path, help="load the images into it")
    args = parser.parse_args(argv)
    images_cache_dir().mkdir(parents=True, exist_ok=True)
    built = node_images()
    for component in args.components:
        built.append(build_project_image(component).image)
    if args.containerd_socket:
        load_into_containerd(built, args.containerd_socket)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
