"""Where developer tools live: a git-ignored folder in the repository, plus a
cache outside it for slow builds (the Kubernetes control plane) so a fresh
clone on the same machine (as CI makes) reuses them."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = Path(os.environ.get("GENRE_MONITOR_TOOLS", REPO_ROOT / ".tools"))
TOOLS_BIN = TOOLS_DIR / "bin"
CACHE_DIR = Path(
    os.environ.get("GENRE_MONITOR_CACHE", Path.home() / ".cache" / "genre-monitor")
)


def tool(name: str) -> str:
    """Absolute path of an installed tool; fails clearly when setup was not run."""
    path = TOOLS_BIN / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `make tools` (or `make setup`) to install the test tools"
        )
    return str(path)
