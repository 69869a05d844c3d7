"""OAuth 2.0 helpers for PagerDuty apps: code exchange, token refresh and revocation."""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests

from .client import HttpTransport
from .errors import NetworkError, OAuthError, ServerError, parse_error_body

DEFAULT_OAUTH_URL = "https://identity.pagerduty.com"
DEFAULT_EXPIRES_IN = 3600  # Used only when the server omits expires_in.


@dataclass(frozen=True)
class TokenSet:
    """Tokens from the OAuth server; `expires_at` is an aware UTC datetime."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scope: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def __repr__(self) -> str:
        return f"TokenSet(expires_at={self.expires_at.isoformat()}, scope={self.scope!r})"

    def expires_within(self, seconds: float, *, now: datetime | None = None) -> bool:
        """True if the access token expires within `seconds` (refresh a little before expiry)."""
        current = now or datetime.now(UTC)
        return self.expires_at - current <= timedelta(seconds=seconds)


def _token_request(
    oauth_url: str,
    form: Mapping[str, str],
    *,
    timeout: float,
    session: requests.Session | None,
    debug: bool,
    sleep: Callable[[float], None],
    now: Callable[[], datetime],
) -> TokenSet:
    path = "/oauth/token"
    # base_url: the client secret goes to the OAuth host and nowhere else.
    transport = HttpTransport(
        timeout=timeout, max_retries=2, debug=debug, session=session, sleep=sleep, base_url=oauth_url
    )
    # A refresh token may be single-use, so a token request is never repeated once it may have reached the server.
    state = transport.send(
        "POST",
        f"{oauth_url.rstrip('/')}{path}",
        data=urlencode(dict(form)),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    resp = state.response
    if resp is None:
        error = state.error or NetworkError("Could not reach the PagerDuty OAuth server")
        error.path = path
        raise error
    try:
        body = jsonlib.loads(resp.content) if resp.content.strip() else {}
    except ValueError:
        body = None
    if resp.status >= 400 or not isinstance(body, dict) or "error" in body or not body.get("access_token"):
        message, code, errors = parse_error_body(resp.content, resp.status)
        error_name = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        if resp.status < 400 and not error_name:
            message = "The OAuth server answered without an access token"
        raise OAuthError(
            message,
            error=error_name,
            error_description=description,
            status=resp.status,
            code=code,
            errors=errors,
            method="POST",
            path=path,
        )
    try:
        expires_in = float(body.get("expires_in") or DEFAULT_EXPIRES_IN)
    except (TypeError, ValueError):
        expires_in = DEFAULT_EXPIRES_IN
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=body.get("refresh_token") or form.get("refresh_token"),
        expires_at=now() + timedelta(seconds=expires_in),
        scope=str(body.get("scope") or ""),
        raw=body,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def exchange_code(
    *,
    oauth_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    timeout: float = 10,
    session: requests.Session | None = None,
    debug: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = _utcnow,
) -> TokenSet:
    """Trade an authorization code for tokens (POST {oauth_url}/oauth/token, form-encoded)."""
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    return _token_request(oauth_url, form, timeout=timeout, session=session, debug=debug, sleep=sleep, now=now)


def refresh(
    *,
    oauth_url: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    timeout: float = 10,
    session: requests.Session | None = None,
    debug: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = _utcnow,
) -> TokenSet:
    """Get a new access token; if the server does not rotate the refresh token, the old one is kept."""
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    return _token_request(oauth_url, form, timeout=timeout, session=session, debug=debug, sleep=sleep, now=now)


def revoke(
    *,
    oauth_url: str,
    client_id: str,
    client_secret: str,
    token: str,
    token_type_hint: str = "",
    timeout: float = 10,
    max_retries: int = 2,
    session: requests.Session | None = None,
    debug: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Revoke a token at the identity service (POST {oauth_url}/oauth/revoke, form-encoded, RFC 7009).

    Revoking the refresh token ends the whole grant. Returns the HTTP status (200: revoked, or already unknown,
    which RFC 7009 treats the same). Raises OAuthError when refused (4xx), ServerError on 5xx, NetworkError
    when nothing answered.
    """
    path = "/oauth/revoke"
    form = {"client_id": client_id, "client_secret": client_secret, "token": token}
    if token_type_hint:
        form["token_type_hint"] = token_type_hint
    # Revoking twice is harmless, so a failed attempt may be repeated.
    transport = HttpTransport(
        timeout=timeout, max_retries=max_retries, debug=debug, session=session, sleep=sleep, base_url=oauth_url
    )
    state = transport.send(
        "POST",
        f"{oauth_url.rstrip('/')}{path}",
        data=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        retry_all_errors=True,
    )
    resp = state.response
    if resp is None:
        error = state.error or NetworkError("Could not reach the PagerDuty OAuth server")
        error.path = path
        raise error
    if resp.status >= 500:
        message, code, errors = parse_error_body(resp.content, resp.status)
        raise ServerError(message, status=resp.status, code=code, errors=errors, method="POST", path=path)
    if resp.status >= 400:
        message, code, errors = parse_error_body(resp.content, resp.status)
        try:
            body = jsonlib.loads(resp.content) if resp.content.strip() else {}
        except ValueError:
            body = {}
        error_name = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        raise OAuthError(
            message,
            error=error_name,
            error_description=description if isinstance(description, str) else None,
            status=resp.status,
            code=code,
            errors=errors,
            method="POST",
            path=path,
        )
    return resp.status
