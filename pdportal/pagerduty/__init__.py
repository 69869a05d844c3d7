"""The only code in PD Portal that speaks HTTP to PagerDuty (REST v2, Events v2, webhooks v3, OAuth)."""

from . import errors
from .budget import RequestBudget, budget_for
from .client import PagerDutyClient, RawResponse
from .deadline import deadline
from .errors import (
    TRANSIENT,
    Conflict,
    DeadlineExceeded,
    Forbidden,
    InvalidInput,
    NetworkError,
    NotFound,
    OAuthError,
    PagerDutyError,
    RateLimited,
    ServerError,
    Unauthorized,
)
from .events import EventsClient
from .pages import TooManyRecords, format_time, iter_pages, list_all
from .redact import redact, redact_body, redact_headers, redact_url

__all__ = [
    "TRANSIENT",
    "Conflict",
    "DeadlineExceeded",
    "EventsClient",
    "Forbidden",
    "InvalidInput",
    "NetworkError",
    "NotFound",
    "OAuthError",
    "PagerDutyClient",
    "PagerDutyError",
    "RateLimited",
    "RawResponse",
    "RequestBudget",
    "ServerError",
    "TooManyRecords",
    "Unauthorized",
    "budget_for",
    "deadline",
    "errors",
    "format_time",
    "iter_pages",
    "list_all",
    "redact",
    "redact_body",
    "redact_headers",
    "redact_url",
]
