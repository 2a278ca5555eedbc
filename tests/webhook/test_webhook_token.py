"""Per-namespace webhook tokens (genre_monitor.webhook_token): the contract
the operator (writes them) and the webhook (checks them) share. Pure."""

from __future__ import annotations

import pytest

from genre_monitor.webhook_token import (
    namespace_token,
    redact_tokens,
    token_namespace,
    verify,
)

pytestmark = pytest.mark.unit

ROOT = b"chart-secret-0123456789abcdef"


def test_a_token_is_derived_per_namespace_and_is_stable():
    ml, music = namespace_token(ROOT, "ml"), namespace_token(ROOT, "music")
    assert ml == namespace_token(ROOT, "ml")
    assert ml != music
    assert ml.startswith("gm1.ml.") and len(ml) == len("gm1.ml.") + 64
    assert ROOT.decode() not in ml


def test_the_root_is_used_as_both_sides_read_it():
    # A Secret made from a file often ends in a newline; the webhook strips it.
    assert namespace_token(ROOT + b"\n", "ml") == namespace_token(ROOT, "ml")
    assert namespace_token(b"other-secret", "ml") != namespace_token(ROOT, "ml")
    for empty in (b"", b" \n"):
        with pytest.raises(ValueError, match="empty"):
            namespace_token(empty, "ml")


@pytest.mark.parametrize("namespace", ["", "ML", "a.b", "-a", "a" * 64, "ml\n", "a/b"])
def test_only_namespace_names_get_a_token(namespace):
    with pytest.raises(ValueError, match="not a namespace name"):
        namespace_token(ROOT, namespace)


def test_verify_names_the_namespace_of_a_genuine_token_only():
    token = namespace_token(ROOT, "ml")
    assert verify(ROOT, token) == "ml"
    assert verify(b"other-secret", token) is None
    assert verify(ROOT, token.replace("gm1.ml.", "gm1.music.")) is None
    assert verify(ROOT, token[:-1]) is None
    assert verify(ROOT, token + "\n") is None
    assert verify(ROOT, ROOT.decode()) is None
    assert verify(ROOT, "gm1.ml.\udcff" + "0" * 63) is None  # undecodable header bytes


def test_token_namespace_reads_the_claim_without_trusting_it():
    assert token_namespace(namespace_token(b"anything", "ml")) == "ml"
    assert token_namespace("gm1.ml.xyz") is None
    assert token_namespace("gm2.ml." + "0" * 64) is None


def test_redact_tokens_hides_anything_token_shaped():
    token = namespace_token(ROOT, "ml")
    text = f"header was b'Bearer {token}' and {token[:30]}"
    redacted = redact_tokens(text)
    assert token not in redacted and token[7:30] not in redacted
    assert redacted.count("gm1.[redacted]") == 2
