"""Credentials: access tokens (sent as PRIVATE-TOKEN) and OAuth2 with single-flight refresh and rotation.

GitLab refresh tokens are single use: once the access token a refresh returned is used, the old access and
refresh tokens are revoked (Doorkeeper's `revoke_previous_refresh_token!`, which GitLab's
lib/gitlab/auth/auth_finders.rb `find_oauth_access_token` calls on every API request). So a refresh happens
once per expiry however many workers notice it, and the rotated pair is kept *before* it is used: handed to
the Flow adapter (which hands it to Flow's runtime, see tap_gitlab/flow/config_update.py) and/or written
atomically to the token store. If that fails, the new pair is never used and the old one stays valid, so the
next run can refresh again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import typing as t

import requests

from tap_gitlab.errors import AuthError
from tap_gitlab.settings import OAuthCredentials, Settings, parse_datetime

logger = logging.getLogger("tap-gitlab")

# Refresh this long before the recorded expiry, so that a request is never sent with a token about to lapse.
_EXPIRY_MARGIN = dt.timedelta(seconds=120)

# Set by the Flow adapter for the tap it runs: the number of an inherited socket on which a rotated pair is
# handed back (one JSON line each way). Not a setting: only the adapter can provide the other end.
HANDBACK_FD_ENV = "TAP_GITLAB_TOKEN_HANDBACK_FD"
# How long the tap waits for the adapter to encrypt and emit the config update.
_HANDBACK_TIMEOUT = 300.0


class Auth:
    """Adds credentials to requests; the HTTP layer asks it to refresh on a 401."""

    can_refresh = False

    def headers(self) -> dict[str, str]:
        """Headers that authenticate one request."""
        raise NotImplementedError

    def secrets(self) -> list[str]:
        """Every secret value, so that logs and errors can be scrubbed of them."""
        raise NotImplementedError

    def refresh(self, failed_headers: dict[str, str]) -> bool:
        """Refresh after a 401 seen with `failed_headers`; return whether a retry may succeed."""
        return False


class AccessTokenAuth(Auth):
    """Personal, project or group access token: the `PRIVATE-TOKEN` header."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self._token}

    def secrets(self) -> list[str]:
        return [self._token]


class BearerAuth(Auth):
    """An OAuth access token as it is, never refreshed: for checks run where a rotated pair could not be kept
    (the Flow adapter's `validate`, which cannot hand a pair back to Flow)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def secrets(self) -> list[str]:
        return [self._token]


class TokenHandback:
    """The tap's end of the Flow adapter's hand-back channel: a rotated pair goes out, the refresh waits.

    `send` returns only once the adapter has emitted Flow's `configUpdate` carrying the new pair, so the new
    access token is never used before Flow holds it.
    """

    def __init__(self, sock: socket.socket, timeout: float = _HANDBACK_TIMEOUT) -> None:
        self._sock = sock
        self._sock.settimeout(timeout)
        self._reader = sock.makefile("rb")

    @classmethod
    def from_env(cls) -> TokenHandback | None:
        """The process's one channel (a second socket object on the same descriptor would close it when
        collected)."""
        global _handback
        value = os.environ.get(HANDBACK_FD_ENV)
        if not value:
            return None
        try:
            with _handback_lock:
                if _handback is None:
                    _handback = cls(socket.socket(fileno=int(value)))
                return _handback
        except (ValueError, OSError):
            raise AuthError(
                f"{HANDBACK_FD_ENV} does not name an open socket; run the tap through the Flow adapter"
            ) from None

    def send(self, access_token: str, refresh_token: str, expiry: dt.datetime | None) -> None:
        message = {"access_token": access_token, "refresh_token": refresh_token, "token_expiry_date": _iso(expiry)}
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
            line = self._reader.readline()
        except OSError as exc:
            raise AuthError(
                f"could not hand the rotated OAuth tokens back to Flow ({type(exc).__name__}); they were not "
                "used, so the next run refreshes again"
            ) from None
        try:
            answer = json.loads(line) if line else {"error": "the Flow adapter closed the channel"}
        except ValueError:
            answer = {"error": "the Flow adapter answered something that is not JSON"}
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            reason = answer.get("error") if isinstance(answer, dict) else None
            raise AuthError(
                f"could not hand the rotated OAuth tokens back to Flow: {reason or 'no reason given'}; they were "
                "not used, so the next run refreshes again"
            )


_handback: TokenHandback | None = None
_handback_lock = threading.Lock()


class OAuth2Auth(Auth):
    """OAuth2 access token as `Authorization: Bearer`, refreshed on expiry and on 401."""

    can_refresh = True

    def __init__(
        self,
        creds: OAuthCredentials,
        *,
        token_url: str,
        store_path: str | None,
        session_factory: t.Callable[[], requests.Session],
        timeout: float,
        handback: TokenHandback | None = None,
    ) -> None:
        self._client_id = creds.client_id
        self._client_secret = creds.client_secret
        self._access_token = creds.access_token
        self._refresh_token = creds.refresh_token
        self._expiry = creds.token_expiry
        self._token_url = token_url
        self._store_path = store_path
        self._session_factory = session_factory
        self._timeout = timeout
        self._handback = handback
        self._lock = threading.Lock()
        # Every token this run has held: a spent one is still a secret, in logs as anywhere.
        self._spent: list[str] = []
        # A rotated pair that could not be kept: nothing may authenticate with either pair any more.
        self._broken: AuthError | None = None
        self._generation = 0
        self.refresh_count = 0
        # Which configured grant the store descends from: a store written before the connector was
        # re-authorized holds a dead refresh token, and must not shadow the new one in the config.
        self._origin = _fingerprint(creds.refresh_token)
        self._load_store()

    def _load_store(self) -> None:
        """A token store written by an earlier run holds a newer pair than the config: prefer it."""
        if not self._store_path or not os.path.exists(self._store_path):
            return
        try:
            with open(self._store_path, encoding="utf-8") as handle:
                stored = json.load(handle)
            origin = stored.get("origin")
            if origin is not None and origin != self._origin:
                logger.info("The OAuth credentials in the config are newer than the token store; using them")
                return
            self._access_token = stored["access_token"]
            self._refresh_token = stored["refresh_token"]
            expiry = stored.get("token_expiry_date")
            self._expiry = parse_datetime(expiry, "token_expiry_date") if expiry else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AuthError(
                f"the OAuth token store {self._store_path} is unreadable ({type(exc).__name__}); "
                "fix or delete it and re-authorize"
            ) from None

    def _save_store(self) -> None:
        if not self._store_path:
            return
        payload = {
            "access_token": self._access_token,
            "refresh_token": self._refresh_token,
            "token_expiry_date": self._expiry.isoformat().replace("+00:00", "Z") if self._expiry else None,
            "origin": self._origin,
        }
        directory = os.path.dirname(os.path.abspath(self._store_path))
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".oauth-", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._store_path)
        except BaseException as exc:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                # The old refresh token is already spent: stop rather than run on tokens nobody will remember.
                raise AuthError(
                    f"could not save the rotated OAuth tokens to the token store {self._store_path} "
                    f"({type(exc).__name__}: {exc.strerror or exc}); make it writable and re-authorize"
                ) from None
            raise

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._broken is not None:
                raise self._broken
            if self._expiry is not None and dt.datetime.now(dt.UTC) >= self._expiry - _EXPIRY_MARGIN:
                self._refresh_locked()
            return {"Authorization": f"Bearer {self._access_token}"}

    def secrets(self) -> list[str]:
        return [self._access_token, self._refresh_token, self._client_secret, *self._spent]

    def refresh(self, failed_headers: dict[str, str]) -> bool:
        with self._lock:
            if self._broken is not None:
                raise self._broken
            if failed_headers.get("Authorization") != f"Bearer {self._access_token}":
                return True  # another worker already refreshed since this request was sent
            self._refresh_locked()
            return True

    def _refresh_locked(self) -> None:
        data = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        try:
            response = self._session_factory().post(self._token_url, data=data, timeout=self._timeout)
        except requests.RequestException as exc:
            raise AuthError(f"could not reach GitLab to refresh the OAuth token ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error") if isinstance(body, dict) else None
            if error in {"invalid_grant", "invalid_client", "unauthorized_client"}:
                why = " (a refresh token works once: this one was already used, or revoked)"
                raise AuthError(
                    f"GitLab rejected the OAuth refresh token ({error}); re-authorize the connector to get a new one"
                    + (why if error == "invalid_grant" else "")
                )
            raise AuthError(f"OAuth token refresh failed with HTTP {response.status_code}; re-authorize")
        created = body.get("created_at")
        now = dt.datetime.now(dt.UTC)
        base = dt.datetime.fromtimestamp(int(created), dt.UTC) if isinstance(created, int | float) else now
        access = str(body["access_token"])
        refresh = str(body.get("refresh_token") or self._refresh_token)
        expires_in = body.get("expires_in")
        expiry = base + dt.timedelta(seconds=int(expires_in)) if expires_in else None
        self._spent += [self._access_token, self._refresh_token, access, refresh]
        self.refresh_count += 1
        # Kept before use: the hand-back to Flow returns once Flow has the pair; the store once it is on disk.
        try:
            if self._handback is not None:
                self._handback.send(access, refresh, expiry)
            self._access_token, self._refresh_token, self._expiry = access, refresh, expiry
            self._save_store()
        except AuthError as exc:
            self._broken = exc
            raise
        self._generation += 1


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if moment else None


def _fingerprint(refresh_token: str) -> str:
    """A short one-way tag of a configured refresh token (never the token itself)."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


def build_auth(settings: Settings, session_factory: t.Callable[[], requests.Session]) -> Auth:
    """The authenticator for the configured credentials."""
    if settings.oauth is not None:
        return OAuth2Auth(
            settings.oauth,
            token_url=f"{settings.api_url}/oauth/token",
            store_path=settings.oauth_token_store,
            session_factory=session_factory,
            timeout=settings.request_timeout,
            handback=TokenHandback.from_env(),
        )
    assert settings.token is not None
    return AccessTokenAuth(settings.token)
