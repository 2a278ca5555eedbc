import logging
import os

import pytest

from genre_monitor_webhook.auth import AuthResult, BearerAuth, TokenFile

pytestmark = pytest.mark.unit

SECRET = "s3cr3t-token-value"


@pytest.fixture
def token_path(tmp_path):
    path = tmp_path / "token"
    path.write_text(SECRET + "\n")  # Secrets created from files often end in a newline
    return path


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {SECRET}", AuthResult.OK),
        (f"bearer {SECRET}", AuthResult.OK),
        (None, AuthResult.MISSING_HEADER),
        ("", AuthResult.MISSING_HEADER),
        (f"Basic {SECRET}", AuthResult.NOT_BEARER),
        ("Bearer ", AuthResult.NOT_BEARER),
        (SECRET, AuthResult.NOT_BEARER),
        ("Bearer wrong", AuthResult.WRONG_TOKEN),
        (f"Bearer {SECRET}x", AuthResult.WRONG_TOKEN),
        (f"Bearer {SECRET[:-1]}", AuthResult.WRONG_TOKEN),
    ],
)
def test_checks_the_bearer_token(token_path, header, expected):
    assert BearerAuth(TokenFile(token_path)).check(header) is expected


def test_rotation_is_picked_up_without_restart(token_path):
    auth = BearerAuth(TokenFile(token_path))
    assert auth.check(f"Bearer {SECRET}").ok
    # The kubelet swaps the file; same size and (coarse) mtime must not hide it.
    stat = token_path.stat()
    token_path.write_text("rotated-token-valu\n")
    os.utime(token_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert auth.check(f"Bearer {SECRET}") is AuthResult.WRONG_TOKEN
    assert auth.check("Bearer rotated-token-valu").ok


def test_rotation_by_symlink_swap_like_a_secret_volume(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "token").write_text("first")
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "token").write_text("second")
    (tmp_path / "..data").symlink_to("v1")
    (tmp_path / "token").symlink_to("..data/token")
    auth = BearerAuth(TokenFile(tmp_path / "token"))
    assert auth.check("Bearer first").ok
    (tmp_path / "..data_tmp").symlink_to("v2")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
    assert auth.check("Bearer first") is AuthResult.WRONG_TOKEN
    assert auth.check("Bearer second").ok


@pytest.mark.parametrize("content", ["", "\n", "   \n"])
def test_empty_token_file_refuses_everything(tmp_path, caplog, content):
    path = tmp_path / "token"
    path.write_text(content)
    auth = BearerAuth(TokenFile(path))
    with caplog.at_level(logging.ERROR):
        assert auth.check("Bearer anything") is AuthResult.NO_TOKEN_CONFIGURED
        assert auth.check(None) is AuthResult.NO_TOKEN_CONFIGURED
    assert "is empty" in caplog.text


def test_missing_token_file_refuses_everything_and_logs_once(tmp_path, caplog):
    auth = BearerAuth(TokenFile(tmp_path / "absent"))
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            assert auth.check("Bearer x") is AuthResult.NO_TOKEN_CONFIGURED
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "absent" in errors[0].getMessage() and "401" in errors[0].getMessage()
    # The file appearing later is picked up.
    (tmp_path / "absent").write_text(SECRET)
    assert auth.check(f"Bearer {SECRET}").ok


def test_token_never_logged(token_path, caplog):
    with caplog.at_level(logging.DEBUG):
        auth = BearerAuth(TokenFile(token_path))
        auth.check(f"Bearer {SECRET}")
        auth.check("Bearer wrong-guess")
        token_path.write_text("")
        auth.check(f"Bearer {SECRET}")
    assert caplog.records  # something was logged ...
    assert SECRET not in caplog.text  # ... but never the token
    assert "wrong-guess" not in caplog.text
