"""Redaction of tokens and secrets in headers, bodies and URLs before anything is logged or shown."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-pagerduty-signature", "x-api-key"}
)
SECRET_FIELDS = frozenset(
    {
        "token",
        "secret",
        "refresh_token",
        "client_secret",
        "access_token",
        "id_token",
        "routing_key",
        "integration_key",
        "service_key",
        "password",
        "code_verifier",
        "api_key",
        "private_url_key",
    }
)

# Bare form/query bodies ("a=1&client_secret=x") are redacted by this pattern.
_PAIR = re.compile(r"(?P<key>[^&=\s]+)=(?P<value>[^&\s]*)")


# An OAuth authorization `code` is a secret, but PagerDuty's numeric error `code` must stay visible.
_STRING_ONLY_SECRET_FIELDS = frozenset({"code"})


def _is_secret_key(key: Any, value: Any = "") -> bool:
    name = str(key).lower().removesuffix("[]")
    if name in _STRING_ONLY_SECRET_FIELDS:
        return isinstance(value, str)
    return name in SECRET_FIELDS


def redact_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Copy of `headers` with credential-bearing values replaced (the auth scheme is kept for debugging)."""
    out: dict[str, str] = {}
    for key, value in (headers or {}).items():
        if str(key).lower() in SECRET_HEADERS:
            text = str(value)
            scheme = text.split(" ", 1)[0] if " " in text and str(key).lower() == "authorization" else ""
            out[key] = f"{scheme} {REDACTED}".strip()
        else:
            out[key] = value if isinstance(value, str) else str(value)
    return out


def redact_data(data: Any) -> Any:
    """Deep copy of a JSON-like value with every secret field's value replaced."""
    if isinstance(data, Mapping):
        return {
            k: (REDACTED if _is_secret_key(k, v) and v not in (None, "") else redact_data(v)) for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [redact_data(v) for v in data]
    return data


def redact_params(params: Any) -> Any:
    """Redact query parameters given as a mapping or a list of (key, value) pairs."""
    if params is None:
        return None
    if isinstance(params, Mapping):
        return redact_data(params)
    return [(k, REDACTED if _is_secret_key(k) else v) for k, v in params]


def redact_url(url: str) -> str:
    """URL with secret query parameters and any embedded password replaced."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True) if query else []
    if any(_is_secret_key(k) for k, _ in pairs):
        query = urlencode([(k, REDACTED if _is_secret_key(k) else v) for k, v in pairs], safe="[]")
    elif netloc == parts.netloc:
        return url  # nothing secret: exactly as given (the audit log keeps the URL as sent)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Redact a body given as text: JSON is redacted field by field, a form body pair by pair."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.dumps(redact_data(json.loads(stripped)))
        except RecursionError:
            # Too deep to walk field by field, so it cannot be shown with its secrets removed.
            return "[body nested too deeply to redact]"
        except ValueError:
            pass
    if "=" in text and "\n" not in stripped:
        return _PAIR.sub(
            lambda m: f"{m.group('key')}={REDACTED}" if _is_secret_key(m.group("key")) else m.group(0), text
        )
    return text


def redact_body(body: Any) -> Any:
    """Redact a request or response body of any shape (dict, list, bytes, str, None)."""
    if body is None:
        return None
    if isinstance(body, bytes | bytearray):
        return redact_text(bytes(body).decode("utf-8", errors="replace"))
    if isinstance(body, str):
        return redact_text(body)
    return redact_data(body)


def redact(value: Any) -> Any:
    """Redact anything: a header mapping is treated as data (secret field names), a string as a URL or body."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return redact_url(value)
    return redact_body(value)
