"""Per-namespace webhook tokens, derived from the chart's secret. Pure.

The chart holds one secret (the "root"). Each monitored namespace gets its
own bearer token, an HMAC of the namespace keyed by the root: the operator
writes it into that namespace (for the AlertmanagerConfig), and the webhook
recomputes it from the namespace the token names, so it never reads Secrets.
A token lets its holder speak for its own namespace only; reading the copy in
namespace A gives nothing in namespace B.

A token reads ``gm1.<namespace>.<hex HMAC-SHA256>``: the namespace travels in
clear (it is not a secret) so the webhook can check the token before it reads
the body. Rotating the root changes every derived token.
"""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "gm1"
# Domain separation: the same root used for anything else never yields a token.
_CONTEXT = b"genre-monitor webhook token v1\x00"
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # RFC 1123 label
_TOKEN = re.compile(rf"{PREFIX}\.(?P<namespace>[a-z0-9-]{{1,63}})\.[0-9a-f]{{64}}")
# Anything shaped like a derived token, for scrubbing logs (see redact_tokens).
TOKEN_PATTERN = re.compile(rf"{PREFIX}\.[a-z0-9-]{{1,63}}\.[0-9a-fA-F]{{8,}}")


def normalise_root(root: bytes) -> bytes:
    """The root as both sides use it: Secrets made from files often end in a newline."""
    root = root.strip()
    if not root:
        raise ValueError("the webhook root secret is empty")
    return root


def namespace_token(root: bytes, namespace: str) -> str:
    """The bearer token for ``namespace``, derived from the chart's ``root`` secret."""
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"namespace {namespace!r} is not a namespace name")
    mac = hmac.new(normalise_root(root), _CONTEXT + namespace.encode(), hashlib.sha256)
    return f"{PREFIX}.{namespace}.{mac.hexdigest()}"


def token_namespace(token: str) -> str | None:
    """The namespace a token claims to be for, or None when it is not shaped like one.

    Says nothing about whether the token is genuine: see :func:`verify`.
    """
    shaped = _TOKEN.fullmatch(token)
    if shaped is None or not _NAMESPACE.fullmatch(shaped["namespace"]):
        return None
    return shaped["namespace"]


def verify(root: bytes, token: str) -> str | None:
    """The namespace ``token`` was derived for from ``root``; None if it was not.

    Constant time in the MAC: an attacker learns nothing from response timing.
    """
    namespace = token_namespace(token)
    if namespace is None:
        return None
    expected = namespace_token(root, namespace)
    if hmac.compare_digest(expected.encode(), token.encode()):
        return namespace
    return None


def redact_tokens(text: str) -> str:
    """``text`` with anything shaped like a derived token replaced."""
    return TOKEN_PATTERN.sub(f"{PREFIX}.[redacted]", text)
