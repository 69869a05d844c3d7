"""Credential reads: resolve an Authorization header to an Actor, and list keys for the harness."""

import hmac

from sandbox import knobs
from sandbox.identity.actions import registered_client
from sandbox.identity.models import ApiKey, OAuthToken
from sandbox.identity.scopes import Actor, parse_scopes
from sandbox.identity.tokens import account_token, parse_authorization, token_hash, token_id, user_api_key


def _user_model():
    from sandbox.api.models import User

    return User


def _derived_user_key(raw: str):
    """Per-user keys are derived, not stored up front; remember a match so the next lookup is one query."""
    if not raw.startswith("u+"):
        return None
    for user in _user_model().objects.all():
        if hmac.compare_digest(user_api_key(user.id), raw):
            ApiKey.objects.get_or_create(
                token_hash=token_hash(raw),
                defaults={"token_id": token_id(raw), "user_id": user.id, "created_at": knobs.now()},
            )
            return user
    return None


def actor_for_authorization(header: str) -> Actor | None:
    """The caller behind an Authorization header, or None when it is missing, unknown or expired."""
    parsed = parse_authorization(header)
    if parsed is None:
        return None
    kind, raw = parsed
    tid = token_id(raw)
    if kind == "key":
        if hmac.compare_digest(raw, account_token()):
            return Actor(user=None, kind="account_key", scopes={"read", "write"}, token_id=tid)
        key = ApiKey.objects.filter(token_hash=token_hash(raw)).first()
        if key is None:
            user = _derived_user_key(raw)
            if user is None:
                return None
            return Actor(user=user, kind="user_key", scopes={"read", "write"}, token_id=tid)
        if not key.user_id:
            return Actor(user=None, kind="account_key", scopes={"read", "write"}, token_id=tid, read_only=key.read_only)
        user = _user_model().objects.filter(id=key.user_id).first()
        if user is None:
            return None
        return Actor(user=user, kind="user_key", scopes={"read", "write"}, token_id=tid, read_only=key.read_only)
    row = OAuthToken.objects.filter(access_hash=token_hash(raw), revoked=False).first()
    if row is None or row.access_expires_at <= knobs.now():
        return None
    user = _user_model().objects.filter(id=row.user_id).first()
    if user is None:
        return None
    return Actor(user=user, kind="oauth", scopes=set(parse_scopes(row.scopes)), token_id=tid)


def keys_overview() -> dict:
    """Everything a test or a developer needs to talk to the sandbox (loopback-only harness data)."""
    from sandbox.api.models import Integration

    client = registered_client()
    users = [
        {"id": u.id, "name": u.name, "email": u.email, "role": u.role, "api_key": user_api_key(u.id)}
        for u in _user_model().objects.order_by("id")
    ]
    routing = [
        {
            "service_id": i.service_id,
            "service_name": i.service.name,
            "integration_id": i.id,
            "type": i.type,
            "routing_key": i.integration_key,
        }
        for i in Integration.objects.select_related("service").order_by("service__name", "id")
    ]
    return {
        "account_api_key": account_token(),
        "oauth_client": {"client_id": client.client_id, "client_secret": client.client_secret},
        "users": users,
        "routing_keys": routing,
    }
