"""Roles and OAuth scopes: who may read, write and administer, and how requests are narrowed."""

import re
from dataclasses import dataclass, field

READ_ONLY_ROLES = frozenset({"observer", "read_only_user", "read_only_limited_user", "restricted_access"})
ADMIN_ROLES = frozenset({"owner", "admin"})
CLASSIC_SCOPES = ("read", "write")
IDENTITY_SCOPES = frozenset({"openid", "email", "profile"})
# Scoped grants that only an account admin can hold; other roles have them silently dropped.
ADMIN_ONLY_SCOPES = frozenset({"users.write", "teams.write"})
SCOPE_RE = re.compile(r"^[a-z][a-z_:]*\.(read|write)$")
DEFAULT_SCOPES = "read write"


def parse_scopes(raw: str | None) -> list[str]:
    """Split a scope string, keeping order and dropping duplicates."""
    seen = []
    for part in (raw or "").replace(",", " ").split():
        if part not in seen:
            seen.append(part)
    return seen


def invalid_scopes(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s not in CLASSIC_SCOPES and s not in IDENTITY_SCOPES and not SCOPE_RE.match(s)]


def narrow_scopes(scopes: list[str], role: str) -> list[str]:
    """Drop what the role cannot have, as PagerDuty does, instead of refusing the grant."""
    kept = []
    for scope in scopes:
        is_write = scope == "write" or scope.endswith(".write")
        if is_write and role in READ_ONLY_ROLES:
            continue
        if scope in ADMIN_ONLY_SCOPES and role not in ADMIN_ROLES:
            continue
        kept.append(scope)
    return kept


def grants(scopes: set[str], wanted: str) -> bool:
    """Does a set of granted scopes cover `wanted` ("incidents.read", "users.write", "read"...)?"""
    if wanted in scopes:
        return True
    resource, _, level = wanted.partition(".")
    if not level:
        # A classic check ("read"/"write") against scoped grants: any grant of that level satisfies it.
        level, resource = resource, ""
        if level == "read":
            return "write" in scopes or any(s.endswith((".read", ".write")) for s in scopes)
        return any(s.endswith(".write") for s in scopes)
    if level == "read":
        return bool({"read", "write", f"{resource}.write"} & scopes)
    if level == "write":
        return "write" in scopes
    return False


@dataclass
class Actor:
    """The authenticated caller of one request (contract: sandbox.identity.middleware sets request.pd_actor)."""

    user: object | None
    kind: str  # "account_key" | "user_key" | "oauth"
    scopes: set[str] = field(default_factory=set)
    token_id: str = ""
    read_only: bool = False

    @property
    def role(self) -> str | None:
        return getattr(self.user, "role", None)

    def can(self, scope: str) -> bool:
        is_write = scope == "write" or scope.endswith(".write")
        if self.kind != "oauth":
            return not (is_write and self.read_only)
        return grants(self.scopes, scope)

    def can_write_as_role(self) -> bool:
        if self.read_only:
            return False
        return self.user is None or self.role not in READ_ONLY_ROLES

    def is_admin(self) -> bool:
        return self.user is None or self.role in ADMIN_ROLES
