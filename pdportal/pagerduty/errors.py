"""Typed errors raised by the PagerDuty client, carrying PagerDuty's own message, code and details."""

from __future__ import annotations

import json
from typing import Any


class PagerDutyError(Exception):
    """A request to PagerDuty failed; `message`, `code` and `errors` are PagerDuty's own words."""

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: int | None = None,
        errors: list[str] | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.message = message or (f"HTTP {status}" if status else "PagerDuty request failed")
        self.code = code
        self.errors = list(errors or [])
        self.method = method
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.message
        if self.code is not None:
            text = f"{text} ({self.code})"
        if self.errors:
            text = f"{text}: {'; '.join(self.errors)}"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle through their args by default, which would drop status/code/errors (Celery pickles them).
        return (_rebuild, (type(self), dict(self.__dict__)))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, message={self.message!r}, "
            f"code={self.code!r}, errors={self.errors!r}, method={self.method!r}, path={self.path!r})"
        )


def _rebuild(cls: type[PagerDutyError], state: dict[str, Any]) -> PagerDutyError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error


class InvalidInput(PagerDutyError):
    """PagerDuty rejected the arguments (400, or 422 for some endpoints); retrying will not help."""


class Unauthorized(PagerDutyError):
    """Missing or wrong credentials (401)."""


class Forbidden(PagerDutyError):
    """Valid credentials without permission for this action (403)."""


class NotFound(PagerDutyError):
    """The resource does not exist or is not visible to this token (404)."""


class Conflict(PagerDutyError):
    """The request conflicts with the current state (409)."""


class RateLimited(PagerDutyError):
    """Too many requests (429); `retry_after` is how long PagerDuty asked us to wait, in seconds."""

    def __init__(self, message: str = "", *, retry_after: float = 0.0, **kwargs: Any) -> None:
        self.retry_after = float(retry_after)
        super().__init__(message, **kwargs)


class ServerError(PagerDutyError):
    """PagerDuty failed on its side (5xx)."""


class NetworkError(PagerDutyError):
    """No HTTP answer at all: connection refused, DNS failure, timeout (status is None).

    `outcome_unknown` is True when a write may have reached PagerDuty before the answer was lost (a timeout
    after sending): PagerDuty may have applied it, so nobody may call it failed, and it is never blindly resent.
    """

    outcome_unknown: bool = False


# Failures worth retrying later (the network, PagerDuty's 5xx, a 429): a task retries these, and records the rest.
TRANSIENT = (NetworkError, ServerError, RateLimited)


class DeadlineExceeded(NetworkError):
    """PagerDuty did not answer within the overall deadline of a person's request (retries included)."""

    def __init__(self, message: str = "", *, seconds: float, outcome_unknown: bool = False, **kwargs: Any) -> None:
        self.seconds = float(seconds)
        self.outcome_unknown = outcome_unknown
        super().__init__(message or deadline_message(seconds), **kwargs)


def deadline_message(seconds: float) -> str:
    """What a person reads when PagerDuty is slower than their request's deadline."""
    return f"PagerDuty did not answer within {seconds:g} s. We will show the result as soon as PagerDuty reports it."


class OAuthError(PagerDutyError):
    """The OAuth server refused a token request (for example `invalid_grant`)."""

    def __init__(
        self,
        message: str = "",
        *,
        error: str | None = None,
        error_description: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.error = error
        self.error_description = error_description
        super().__init__(message or error_description or error or "", **kwargs)

    def __str__(self) -> str:
        base = super().__str__()
        if self.error and self.error not in base:
            return f"{base} [{self.error}]"
        return base


_BY_STATUS: dict[int, type[PagerDutyError]] = {
    400: InvalidInput,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
    429: RateLimited,
}

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        # Some endpoints answer errors keyed by field: {"email": ["is taken"]}.
        out = []
        for key, val in value.items():
            for item in _as_str_list(val):
                out.append(f"{key}: {item}")
        return out
    if isinstance(value, list):
        out = []
        for item in value:
            out.extend(_as_str_list(item) if not isinstance(item, str) else [item])
        return out
    return [str(value)]


def parse_error_body(content: bytes | str | None, status: int | None = None) -> tuple[str, int | None, list[str]]:
    """Return (message, code, errors) from any error body PagerDuty may send, JSON or not."""
    fallback = _REASONS.get(status or 0, f"HTTP {status}" if status else "PagerDuty request failed")
    if content is None:
        return fallback, None, []
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    text = text.strip()
    if not text:
        return fallback, None, []
    try:
        body = json.loads(text)
    except ValueError:
        # A proxy or load balancer page: keep a short, readable excerpt instead of raw HTML.
        excerpt = " ".join(text.split())[:200]
        return fallback, None, [excerpt] if excerpt else []
    if not isinstance(body, dict):
        return fallback, None, _as_str_list(body)[:20]
    err = body.get("error")
    if isinstance(err, dict):
        message = str(err.get("message") or fallback)
        return message, _as_int(err.get("code")), _as_str_list(err.get("errors"))
    if isinstance(err, str):
        # OAuth and some edge endpoints: {"error": "invalid_grant", "error_description": "..."}
        return str(body.get("error_description") or err), None, _as_str_list(body.get("errors"))
    if "message" in body or "status" in body:
        # Events API v2 shape: {"status": "invalid event", "message": "...", "errors": [...]}
        message = str(body.get("message") or body.get("status") or fallback)
        return message, _as_int(body.get("code")), _as_str_list(body.get("errors"))
    if "errors" in body:
        return fallback, None, _as_str_list(body.get("errors"))
    return fallback, None, []


def error_class_for(status: int | None) -> type[PagerDutyError]:
    """The error class for an HTTP status."""
    if status is None:
        return NetworkError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if 400 <= status < 500:
        return InvalidInput if status in (400, 422) else PagerDutyError
    return PagerDutyError


def error_from_response(
    *,
    status: int,
    content: bytes | str | None,
    method: str | None = None,
    path: str | None = None,
    retry_after: float = 0.0,
) -> PagerDutyError:
    """Build the typed error for an HTTP error answer."""
    message, code, errors = parse_error_body(content, status)
    cls = error_class_for(status)
    kwargs: dict[str, Any] = dict(status=status, code=code, errors=errors, method=method, path=path)
    if cls is RateLimited:
        return RateLimited(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


class ForeignOrigin(PagerDutyError):
    """Refused before sending: the URL's origin is not the configured PagerDuty host, so no credential may go there."""
