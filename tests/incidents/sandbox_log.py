"""What the sandbox saw: the portal's writes, each checked to carry the actor's identity (account key + From)."""

from __future__ import annotations

import hashlib

from tests.personas import RESPONDER_EMAIL


def token_id(token: str) -> str:
    # The sandbox logs tokens by this id, never in clear (sandbox/identity/tokens.py).
    return "tok_" + hashlib.sha256(token.encode()).hexdigest()[:16]


def writes(sandbox, *, actor: str = RESPONDER_EMAIL) -> list[tuple[str, str]]:
    """(method, path) of every REST write since the log was cleared; each must be the actor's own."""
    entries = [e for e in sandbox.requests_log() if e["method"] != "GET"]
    for entry in entries:
        if entry["path"].startswith("/v2/"):
            continue  # Events API: a routing key, no person
        assert (entry["from"], entry["token_id"]) == (actor, token_id(sandbox.api_token)), entry
    return [(e["method"], e["path"]) for e in entries]
