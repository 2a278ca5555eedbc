"""Fixtures of the webhook tests: a token file and the webhook as a real process."""

from __future__ import annotations

import pytest

from genre_monitor_dev.webhook_process import WebhookProcess, dead_kubeconfig

TOKEN = "first-token-0123456789abcdef"


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture(scope="module")
def shared_webhook(tmp_path_factory):
    """One webhook (dead apiserver, TOKEN) shared by a module's tests that
    neither rotate its token nor restart it; tests compare metric deltas."""
    workdir = tmp_path_factory.mktemp("webhook")
    token = workdir / "token"
    token.write_text(TOKEN + "\n")
    process = WebhookProcess(workdir, token, dead_kubeconfig(workdir / "dead.kubeconfig"))
    yield process
    process.stop()


@pytest.fixture
def start_webhook(tmp_path, token_file):
    """Start a webhook process: start_webhook(kubeconfig=..., max_body_bytes=..., args=(...))."""
    started: list[WebhookProcess] = []

    def start(
        kubeconfig=None, token=None, max_body_bytes=None, args=(), max_open_files=None
    ) -> WebhookProcess:
        process = WebhookProcess(
            tmp_path,
            token or token_file,
            kubeconfig or dead_kubeconfig(tmp_path / "dead.kubeconfig"),
            max_body_bytes=max_body_bytes,
            extra_args=tuple(args),
            max_open_files=max_open_files,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
