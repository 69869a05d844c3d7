"""OAuth 2.0 writes: issue codes, exchange them, rotate refresh tokens, revoke (hashes only are stored)."""

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction

from sandbox import knobs
from sandbox.identity.models import ApiKey, OAuthCode, OAuthToken
from sandbox.identity.scopes import DEFAULT_SCOPES, narrow_scopes, parse_scopes
from sandbox.identity.tokens import new_secret, token_hash, token_id

CODE_TTL_SECONDS = 30
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class OAuthError(Exception):
    """An RFC 6749 error: `error` is the machine code, `description` the human text."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str


def registered_client() -> Client:
    return Client(
        client_id=os.environ.get("SANDBOX_OAUTH_CLIENT_ID") or "pdportal-sandbox",
        client_secret=os.environ.get("SANDBOX_OAUTH_CLIENT_SECRET") or "sandbox-secret",
    )


def token_ttl() -> int:
    try:
        return int(os.environ.get("SANDBOX_TOKEN_TTL") or 3600)
    except ValueError:
        return 3600


def redirect_uri_allowed(uri: str) -> bool:
    """Any loopback redirect is accepted, so the portal can run on any local port.

    SANDBOX_OAUTH_REDIRECT_HOSTS adds hosts (comma-separated, `*` for any) for a portal reached by another name.
    """
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    extra = {h.strip().lower() for h in os.environ.get("SANDBOX_OAUTH_REDIRECT_HOSTS", "").split(",") if h.strip()}
    host = (parts.hostname or "").lower()
    return parts.scheme in ("http", "https") and bool(host) and (host in LOOPBACK_HOSTS | extra or "*" in extra)


def check_client(client_id: str) -> Client:
    client = registered_client()
    if not client_id or not hmac.compare_digest(client_id, client.client_id):
        raise OAuthError("invalid_client", "Unknown client_id.", status=401)
    return client


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_code_issue(
    *,
    client_id: str,
    user,
    redirect_uri: str,
    scope: str,
    code_challenge: str,
    code_challenge_method: str,
) -> tuple[str, list[str]]:
    """Store a single-use code for `user`; returns (raw code, granted scopes after narrowing)."""
    granted = narrow_scopes(parse_scopes(scope) or parse_scopes(DEFAULT_SCOPES), user.role)
    raw = new_secret(nbytes=24)
    OAuthCode.objects.create(
        code_hash=token_hash(raw),
        client_id=client_id,
        user_id=user.id,
        redirect_uri=redirect_uri,
        scopes=" ".join(granted),
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        expires_at=knobs.now() + CODE_TTL_SECONDS,
    )
    return raw, granted


def _authenticate_client(*, client_id: str, client_secret: str | None) -> Client:
    client = check_client(client_id)
    if client_secret is not None and not hmac.compare_digest(client_secret, client.client_secret):
        raise OAuthError("invalid_client", "Client authentication failed.", status=401)
    return client


def _issue_tokens(*, client_id: str, user_id: str, scopes: str, code_hash: str = "") -> dict:
    access = new_secret("pdsbx_a_")
    refresh = new_secret("pdsbx_r_")
    ttl = token_ttl()
    issued = knobs.now()
    OAuthToken.objects.create(
        access_hash=token_hash(access),
        refresh_hash=token_hash(refresh),
        token_id=token_id(access),
        client_id=client_id,
        user_id=user_id,
        scopes=scopes,
        code_hash=code_hash,
        created_at=issued,
        access_expires_at=issued + ttl,
    )
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": ttl,
        "refresh_token": refresh,
        "scope": scopes,
    }


def authorization_code_exchange(
    *,
    client_id: str,
    client_secret: str | None,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
) -> dict:
    _authenticate_client(client_id=client_id, client_secret=client_secret)
    if not code:
        raise OAuthError("invalid_request", "Missing code.")
    digest = token_hash(code)
    with transaction.atomic():
        row = OAuthCode.objects.select_for_update().filter(code_hash=digest).first()
        replayed = row is not None and row.used_at is not None
        if replayed:
            # RFC 6749 §4.1.2: a replayed code revokes what it already produced (committed before we refuse).
            OAuthToken.objects.filter(code_hash=digest).update(revoked=True, refresh_revoked=True)
        elif row is not None:
            row.used_at = knobs.now()
            row.save(update_fields=["used_at"])
    if row is None:
        raise OAuthError("invalid_grant", "The authorization code is invalid.")
    if replayed:
        raise OAuthError("invalid_grant", "The authorization code has already been used.")
    if row.expires_at <= knobs.now():
        raise OAuthError("invalid_grant", "The authorization code has expired.")
    if row.client_id != client_id:
        raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
    if row.redirect_uri != (redirect_uri or ""):
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
    if row.code_challenge:
        if not code_verifier:
            raise OAuthError("invalid_grant", "Missing code_verifier.")
        if not hmac.compare_digest(pkce_s256(code_verifier), row.code_challenge):
            raise OAuthError("invalid_grant", "PKCE verification failed: code_verifier does not match.")
    elif client_secret is None:
        # A public client must prove possession with PKCE; a confidential one with its secret.
        raise OAuthError("invalid_client", "Client authentication failed.", status=401)
    return _issue_tokens(client_id=client_id, user_id=row.user_id, scopes=row.scopes, code_hash=digest)


def refresh_token_rotate(*, client_id: str, client_secret: str | None, refresh_token: str, scope: str = "") -> dict:
    _authenticate_client(client_id=client_id, client_secret=client_secret)
    if not refresh_token:
        raise OAuthError("invalid_request", "Missing refresh_token.")
    with transaction.atomic():
        row = OAuthToken.objects.select_for_update().filter(refresh_hash=token_hash(refresh_token)).first()
        if row is None or row.refresh_revoked or row.revoked or row.client_id != client_id:
            raise OAuthError("invalid_grant", "The refresh token is invalid or has been revoked.")
        row.refresh_revoked = True
        row.save(update_fields=["refresh_revoked"])
        granted = row.scopes
        if scope:
            # A refresh may narrow the grant, never widen it.
            wanted = parse_scopes(scope)
            held = set(parse_scopes(row.scopes))
            if not set(wanted) <= held:
                raise OAuthError("invalid_scope", "The requested scope exceeds the original grant.")
            granted = " ".join(wanted)
        return _issue_tokens(client_id=client_id, user_id=row.user_id, scopes=granted)


def token_revoke(*, client_id: str, client_secret: str | None, token: str) -> None:
    """RFC 7009: the client authenticates; an access or refresh token it was issued ends the whole grant.

    A token of another client is left alone (and, as for an unknown token, the answer is still 200).
    """
    _authenticate_client(client_id=client_id, client_secret=client_secret)
    digest = token_hash(token)
    mine = OAuthToken.objects.filter(client_id=client_id)
    mine.filter(access_hash=digest).update(revoked=True, refresh_revoked=True)
    mine.filter(refresh_hash=digest).update(revoked=True, refresh_revoked=True)


def api_key_create(*, user_id: str = "", read_only: bool = False, description: str = "") -> str:
    """Create an extra REST key (raw value returned once)."""
    raw = new_secret("k+", 15)
    ApiKey.objects.create(
        token_hash=token_hash(raw),
        token_id=token_id(raw),
        user_id=user_id,
        read_only=read_only,
        description=description,
        created_at=knobs.now(),
    )
    return raw


def reset() -> None:
    """Forget every issued credential (the account key and derived user keys keep working)."""
    OAuthCode.objects.all().delete()
    OAuthToken.objects.all().delete()
    ApiKey.objects.all().delete()
