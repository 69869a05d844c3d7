"""Token helpers shared by the auth middleware and the knobs (hashing, ids, parsing)."""

import hashlib
import hmac
import os
import secrets

ACCOUNT_TOKEN_DEFAULT = "sandbox-account-token"


def account_token() -> str:
    """The account-level REST key the sandbox always accepts."""
    return os.environ.get("SANDBOX_API_TOKEN") or ACCOUNT_TOKEN_DEFAULT


def token_hash(raw: str) -> str:
    """Tokens are stored and compared only as SHA-256 digests (they are high-entropy secrets)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def token_id(raw: str) -> str:
    """A stable, non-reversible id for a token, safe to show in logs and use as a rate-limit key."""
    return "tok_" + token_hash(raw)[:16]


def new_secret(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def user_api_key(user_id: str) -> str:
    """Per-user REST keys are derived from the account key so they survive a re-seed."""
    digest = hmac.new(account_token().encode(), f"user-key:{user_id}".encode(), hashlib.sha256)
    return "u+" + digest.hexdigest()[:20]


def parse_authorization(header: str) -> tuple[str, str] | None:
    """Split an Authorization header into ("key" | "bearer", raw token), or None when absent/malformed."""
    header = (header or "").strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    rest = rest.strip()
    if scheme.lower() == "token":
        # PagerDuty's form is `Token token=<key>`; tolerate optional quotes.
        if not rest.lower().startswith("token="):
            return None
        raw = rest[len("token=") :].strip().strip('"')
        return ("key", raw) if raw else None
    if scheme.lower() == "bearer" and rest:
        return ("bearer", rest)
    return None


def token_id_from_header(header: str) -> str | None:
    parsed = parse_authorization(header)
    return token_id(parsed[1]) if parsed else None
