"""Bearer-token authentication against the chart's secret, mounted as a file.

Alertmanager sends the token of one namespace, derived from the chart's
secret (the "root", see :mod:`genre_monitor.webhook_token`): it lets the
sender speak for that namespace only. The root itself is accepted too, for
every namespace; whoever holds it can derive every namespace's token anyway.

The file is stat'ed on every request and re-read when it changes, so rotating
the Secret (the kubelet swaps the mounted file) needs no restart. A missing
or empty token file refuses every request: an unconfigured webhook must not
be an open one. No token is ever logged.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from genre_monitor import webhook_token

log = logging.getLogger(__name__)

BEARER = "bearer"


class AuthResult(enum.Enum):
    OK = "ok"
    MISSING_HEADER = "missing Authorization header"
    NOT_BEARER = "Authorization header is not a Bearer token"
    WRONG_TOKEN = "wrong token"  # noqa: S105 - a description, not a secret
    NO_TOKEN_CONFIGURED = "no token configured on the webhook"  # noqa: S105 - a description

    @property
    def ok(self) -> bool:
        return self is AuthResult.OK


class TokenFile:
    """The current token from ``path``; re-read whenever the file changes."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token: bytes | None = None
        self._problem: str | None = None

    def current(self) -> bytes | None:
        """The token, or None when the file is missing, unreadable or empty."""
        try:
            # stat() follows the ..data symlink a Secret volume swaps on update.
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        except OSError as exc:
            return self._set(None, None, f"cannot read token file {self.path}: {exc.strerror}")
        with self._lock:
            if stamp == self._stamp:
                return self._token
        try:
            token = self.path.read_bytes().strip()
        except OSError as exc:
            return self._set(None, None, f"cannot read token file {self.path}: {exc.strerror}")
        if not token:
            return self._set(stamp, None, f"token file {self.path} is empty")
        return self._set(stamp, token, None)

    def _set(
        self, stamp: tuple[int, int, int] | None, token: bytes | None, problem: str | None
    ) -> bytes | None:
        with self._lock:
            # Log state changes only, not every request: a broken mount would
            # otherwise flood the log at Alertmanager's retry rate.
            if problem and problem != self._problem:
                log.error("%s: refusing every request with 401 until it is fixed", problem)
            elif token is not None and stamp != self._stamp:
                log.info("token (re)loaded from %s", self.path)
            self._stamp, self._token, self._problem = stamp, token, problem
            return token


@dataclass(frozen=True)
class Verdict:
    result: AuthResult
    # The one namespace the sender may speak for; None with the root token
    # (every namespace) or when refused.
    namespace: str | None = None

    @property
    def ok(self) -> bool:
        return self.result.ok

    def allows(self, namespace: str | None) -> bool:
        """Whether this sender may ask for anything in ``namespace``."""
        return self.ok and (self.namespace is None or self.namespace == namespace)


class BearerAuth:
    def __init__(self, token_file: TokenFile):
        self.token_file = token_file

    def check(self, authorization: str | None) -> AuthResult:
        return self.authenticate(authorization).result

    def authenticate(self, authorization: str | None) -> Verdict:
        root = self.token_file.current()
        if root is None:
            return Verdict(AuthResult.NO_TOKEN_CONFIGURED)
        if not authorization:
            return Verdict(AuthResult.MISSING_HEADER)
        scheme, _, provided = authorization.strip().partition(" ")
        provided = provided.strip()
        if scheme.lower() != BEARER or not provided:
            return Verdict(AuthResult.NOT_BEARER)
        namespace = webhook_token.verify(root, provided)
        if namespace is not None:
            return Verdict(AuthResult.OK, namespace)
        # Constant time, so response timing leaks nothing about the root;
        # comparing digests of equal length hides its length too.
        offered = hashlib.sha256(provided.encode(errors="surrogateescape")).digest()
        if hmac.compare_digest(offered, hashlib.sha256(root).digest()):
            return Verdict(AuthResult.OK)
        return Verdict(AuthResult.WRONG_TOKEN)
