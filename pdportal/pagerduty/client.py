"""PagerDuty REST API v2 client: auth, From header, retries, rate limits, audit callback and debug logging."""

from __future__ import annotations

import json as jsonlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from .budget import RequestBudget, budget_for
from .deadline import Deadline
from .deadline import current as current_deadline
from .errors import (
    DeadlineExceeded,
    ForeignOrigin,
    InvalidInput,
    NetworkError,
    PagerDutyError,
    error_from_response,
    parse_error_body,
)
from .pages import format_time, iter_pages, list_all
from .redact import redact_body, redact_headers, redact_params, redact_url
from .wrappers import lookup as lookup_wrapper

logger = logging.getLogger("pdportal.pagerduty")

ACCEPT = "application/vnd.pagerduty+json;version=2"
DEFAULT_API_URL = "https://api.pagerduty.com"
BULK_LIMIT = 250  # PagerDuty refuses bulk updates of more than 250 items.
MAX_WAIT_SECONDS = 60.0  # No single retry wait is longer than this, whatever the server asks.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Reads: repeating one after a timeout changes nothing in PagerDuty.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Under a deadline, an attempt (or a retry wait) needs at least this much time left to be worth starting.
MIN_ATTEMPT_SECONDS = 0.05
# Gateway errors mean the request never reached PagerDuty's application, so even a POST is safe to repeat.
ALWAYS_RETRY_STATUSES = frozenset({502, 503, 504})

WriteCallback = Callable[[dict[str, Any]], None]

# Collections whose singular is not "strip the s" / "ies -> y".
_IRREGULAR_SINGULARS = {"statuses": "status", "addresses": "address", "analytics": "analytics", "oncalls": "oncall"}


def singular(collection: str) -> str:
    """Singular wrapper name of a collection: incidents -> incident, escalation_policies -> escalation_policy."""
    name = collection.strip("/").rsplit("/", 1)[-1]
    if name in _IRREGULAR_SINGULARS:
        return _IRREGULAR_SINGULARS[name]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


@dataclass(frozen=True)
class RawResponse:
    """PagerDuty's answer as-is, for the raw API console (never raises on 4xx/5xx)."""

    status: int
    headers: dict[str, str]
    content: bytes
    elapsed_ms: float
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Decoded JSON body; raises ValueError if the body is not JSON."""
        return jsonlib.loads(self.content or b"null")


@dataclass
class _Attempt:
    response: RawResponse | None = None
    error: NetworkError | None = None
    attempts: int = 0
    waits: list[float] = field(default_factory=list)
    url: str = ""  # exactly what was sent, query included (for the audit log)
    # A write that may have reached PagerDuty without an answer: its outcome is unknown.
    maybe_sent: bool = False


def encode_params(params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, str]]:
    """Query pairs in PagerDuty's style: list values become repeated `key[]=v`, booleans `true`/`false`."""
    if not params:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            name = key if key.endswith("[]") else f"{key}[]"
            values = sorted(value) if isinstance(value, set | frozenset) else value
            out.extend((name, _scalar(v)) for v in values)
        else:
            out.append((key, _scalar(value)))
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime) and value.tzinfo is not None:
        return format_time(value)  # one time format in every query: PagerDuty's documented `…Z`
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach the server (safe to repeat even a POST)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc)
        return "NewConnectionError" in text or "NameResolutionError" in text or "Connection refused" in text
    return False


def _file_names(files: Any) -> list[str]:
    items = files.items() if isinstance(files, Mapping) else files
    names = []
    for field_name, value in items:
        filename = value[0] if isinstance(value, tuple | list) and value else "file"
        names.append(f"{field_name}={filename}")
    return names


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) an http(s) URL connects to, or None if it has none or userinfo or parsers disagree.

    urllib3 (which opens the connection) and urllib.parse must agree: a URL they read differently, such as
    `https://api.example\\@evil/`, is a crafted one.
    """
    try:
        parsed = parse_url(url)
        split = urlsplit(url)
        split_port = split.port
    except (LocationParseError, ValueError):
        return None
    scheme = (parsed.scheme or "").lower()
    if scheme not in ("http", "https") or not parsed.host or parsed.auth or split.username is not None:
        return None
    default = 443 if scheme == "https" else 80
    origin = (scheme, parsed.host.lower(), parsed.port or default)
    if (split.scheme.lower(), (split.hostname or "").lower(), split_port or default) != origin:
        return None
    return origin


def _under_prefix(url: str, base_url: str) -> bool:
    """Whether `url`'s path, as urllib3 sends it (dot segments removed), stays under a path-prefixed base URL.

    A base such as `https://gateway.example/pagerduty` is one PagerDuty behind a shared host: `../admin` or
    `/pagerduty-other` would carry the credential to another service on that host.
    """
    prefix = urlsplit(base_url).path.rstrip("/")
    if not prefix:
        return True
    path = parse_url(url).path or "/"
    return path == prefix or path.startswith(prefix + "/")


def final_url(url: str, params: list[tuple[str, str]] | None = None) -> str:
    """The URL exactly as requests will send it (query encoded, path quoted)."""
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, params or None)
    except requests.RequestException as exc:
        raise ForeignOrigin(f"Not a URL PD Portal can send to: {type(exc).__name__}", path=url) from None
    return str(prepared.url)


class HttpTransport:
    """Shared HTTP engine: budget, retries with backoff, 429 waits, debug logging, no `requests` leaks."""

    # The configured PagerDuty base URL this transport talks to; every request must keep its origin.
    base_url: str = ""

    def __init__(
        self,
        *,
        timeout: float = 30,
        max_retries: int = 3,
        backoff: float = 0.5,
        debug: bool = False,
        budget: RequestBudget | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = MAX_WAIT_SECONDS,
        on_write: WriteCallback | None = None,
        base_url: str = "",
    ) -> None:
        if base_url:
            self.base_url = base_url
        self.timeout = timeout
        # Called once per write, accepted or not (the portal's audit log).
        self.on_write = on_write
        self.max_retries = max(int(max_retries), 0)
        self.backoff = backoff
        self.debug = debug
        self.budget = budget
        self.max_wait = max_wait
        self._sleep = sleep
        if session is None:
            session = requests.Session()
            # Concurrent pagination shares this session; a bigger pool avoids reconnecting per page.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session

    def checked_url(self, url: str, params: list[tuple[str, str]] | None = None) -> str:
        """The final URL to send, refused (ForeignOrigin) unless its origin is this transport's PagerDuty host.

        This is the one choke point every request passes: credentials never leave for another origin.
        """
        sent = final_url(url, params)
        allowed = origin_of(self.base_url)
        if allowed is None:
            # A transport made without its PagerDuty host (HttpTransport(base_url=...)) may send nowhere.
            raise ForeignOrigin(f"Refused to send to {redact_url(sent)}: no PagerDuty host is configured for it")
        if origin_of(sent) != allowed or not _under_prefix(sent, self.base_url):
            raise ForeignOrigin(
                f"Refused to send a request to {redact_url(sent)}: it is not the configured PagerDuty host "
                f"{self.base_url}",
                path=redact_url(sent),
            )
        return sent

    def _notify_write(self, record: dict[str, Any]) -> None:
        if self.on_write is None:
            return
        try:
            self.on_write(record)
        except Exception:
            logger.exception("on_write callback failed for %s %s", record.get("method"), record.get("path"))

    @staticmethod
    def _deadline_error(limit: Deadline, state: _Attempt, *, method: str, url: str) -> DeadlineExceeded:
        # No technical detail in `errors`: the person reads the message as it is.
        return DeadlineExceeded(seconds=limit.seconds, outcome_unknown=state.maybe_sent, method=method, path=url)

    def _backoff_delay(self, attempt: int, *, backoff: float | None = None, exponential: bool = True) -> float:
        base = self.backoff if backoff is None else max(float(backoff), 0.0)
        return min(base * (2 ** (attempt - 1)) if exponential else base, self.max_wait)

    def _retry_wait_for_429(self, headers: Mapping[str, str], attempt: int) -> float:
        reset = _header_float(headers, "ratelimit-reset")
        if reset is None:
            reset = _header_float(headers, "retry-after")
        if reset is None:
            reset = self._backoff_delay(attempt)
        return min(reset, self.max_wait)

    def send(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_all_errors: bool = False,
        files: Any = None,
        backoff: float | None = None,
        exponential: bool = True,
    ) -> _Attempt:
        """Send with retries; returns the last response, or the network error if nothing answered.

        `files` makes a multipart body (requests' format); `backoff` overrides the first retry delay and
        `exponential=False` keeps every retry delay equal to it (the raw console's retry settings).
        """
        method = method.upper()
        url = self.checked_url(url, params)
        params = None  # now part of `url`: what was checked is exactly what is sent
        retries = self.max_retries if max_retries is None else max(int(max_retries), 0)
        repeatable = retry_all_errors or method in IDEMPOTENT_METHODS
        body = jsonlib.dumps(json).encode("utf-8") if json is not None else data
        delay_for = lambda attempt: self._backoff_delay(attempt, backoff=backoff, exponential=exponential)  # noqa: E731
        state = _Attempt(url=url)
        limit = current_deadline()
        while True:
            if limit is not None and limit.remaining() <= MIN_ATTEMPT_SECONDS:
                # The person's request already spent its time (earlier calls, a budget wait): do not start another.
                state.error = self._deadline_error(limit, state, method=method, url=url)
                state.response = None
                return state
            state.attempts += 1
            if self.budget is not None:
                self.budget.acquire()
            attempt_timeout = timeout if timeout is not None else self.timeout
            clipped = False  # True when the deadline, not the timeout setting, bounds this attempt
            if limit is not None and limit.remaining() < attempt_timeout:
                attempt_timeout, clipped = max(limit.remaining(), MIN_ATTEMPT_SECONDS), True
            if self.debug:
                logger.debug(
                    "PagerDuty request %s %s params=%s headers=%s body=%s",
                    method,
                    redact_url(url),
                    redact_params(params),
                    redact_headers(headers),
                    redact_body(body) if not files else f"<multipart: {', '.join(_file_names(files))}>",
                )
            started = time.monotonic()
            try:
                resp = self.session.request(
                    method,
                    url,
                    params=params or None,
                    data=body,
                    files=files or None,
                    headers=dict(headers or {}),
                    timeout=attempt_timeout,
                    allow_redirects=False,
                )
                content = resp.content
            except requests.RequestException as exc:
                elapsed = (time.monotonic() - started) * 1000
                timed_out = isinstance(exc, requests.Timeout)
                kind = "timed out" if timed_out else "connection failed"
                never_sent = _never_sent(exc)
                # A write that may have arrived is never repeated blindly: PagerDuty may have applied it.
                state.maybe_sent = state.maybe_sent or (method not in SAFE_METHODS and not never_sent)
                state.response = None
                if self.debug:
                    logger.debug(
                        "PagerDuty network error %s %s after %.0f ms: %s", method, redact_url(url), elapsed, kind
                    )
                repeat = method in SAFE_METHODS or retry_all_errors or never_sent
                delay = delay_for(state.attempts)
                in_time = limit is None or delay + MIN_ATTEMPT_SECONDS < limit.remaining()
                if timed_out and limit is not None and (clipped or not in_time):
                    state.error = self._deadline_error(limit, state, method=method, url=url)
                    return state
                state.error = NetworkError(
                    f"Could not reach PagerDuty: {kind}", errors=[type(exc).__name__], method=method, path=url
                )
                state.error.outcome_unknown = state.maybe_sent
                if state.attempts <= retries and repeat and in_time:
                    state.waits.append(delay)
                    self._sleep(delay)
                    continue
                return state
            elapsed = (time.monotonic() - started) * 1000
            state.error = None
            state.response = RawResponse(
                status=resp.status_code,
                headers={k.lower(): v for k, v in resp.headers.items()},
                content=content,
                elapsed_ms=round(elapsed, 1),
                attempts=state.attempts,
            )
            if self.debug:
                logger.debug(
                    "PagerDuty response %s %s -> %s in %.0f ms body=%s",
                    method,
                    redact_url(url),
                    resp.status_code,
                    elapsed,
                    redact_body(content[:4000]) if resp.status_code >= 400 else f"<{len(content)} bytes>",
                )
            status = resp.status_code
            if state.attempts > retries:
                return state
            if status == 429:
                delay = self._retry_wait_for_429(state.response.headers, state.attempts)
            elif status >= 500 and (repeatable or status in ALWAYS_RETRY_STATUSES):
                delay = delay_for(state.attempts)
            else:
                return state
            if limit is not None and delay + MIN_ATTEMPT_SECONDS >= limit.remaining():
                return state  # no time left to wait and ask again: PagerDuty's own answer is the honest one
            if self.debug:
                logger.debug("PagerDuty retry %s %s in %.2f s after HTTP %s", method, redact_url(url), delay, status)
            state.waits.append(delay)
            self._sleep(delay)


class PagerDutyClient(HttpTransport):
    """REST API v2 client for one token; thread-safe, so one instance may serve concurrent page fetches."""

    def __init__(
        self,
        *,
        token: str,
        auth: Literal["token", "bearer"] = "token",
        api_url: str = DEFAULT_API_URL,
        from_email: str | None = None,
        timeout: float = 30,
        max_retries: int = 3,
        backoff: float = 0.5,
        debug: bool = False,
        budget: RequestBudget | None = None,
        on_write: WriteCallback | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        if not token:
            raise ValueError("A PagerDuty token is required")
        if auth not in ("token", "bearer"):
            raise ValueError("auth must be 'token' (REST API key) or 'bearer' (OAuth access token)")
        if budget is None:
            # Every client of one token in this process shares one budget, so together they stay under the limit.
            budget = budget_for(token)
        super().__init__(
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            debug=debug,
            budget=budget,
            session=session,
            sleep=sleep,
            max_wait=max_wait,
            on_write=on_write,
        )
        self.token = token
        self.auth = auth
        self.api_url = api_url.rstrip("/")
        # The one base URL the token belongs to. A copy pointed elsewhere (the API console's calls to the Events
        # or OAuth host) keeps this, so it sends no credential there: the REST key only ever goes to the REST host.
        self.credential_url = self.api_url
        self.from_email = from_email
        self.last_ratelimit: dict[str, float] = {}

    def __repr__(self) -> str:
        # Never include the token: clients end up in logs and tracebacks.
        return f"PagerDutyClient(api_url={self.api_url!r}, auth={self.auth!r}, from_email={self.from_email!r})"

    # -- plumbing ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:  # type: ignore[override]
        return self.api_url

    def url_for(self, path: str) -> str:
        """Absolute URL for a path: appended to the API base, never resolved against it.

        (urljoin let `//evil`, `HTTP://evil` or `http:evil` replace the host.) A full URL is accepted only on
        this client's API origin; `send` checks the final origin again before anything leaves.
        """
        if path[:8].lower().startswith(("http://", "https://")):
            if origin_of(path) != origin_of(self.api_url) or not urlsplit(path).path.startswith(
                urlsplit(self.api_url).path
            ):
                raise ForeignOrigin(f"Refused to send PagerDuty credentials to {redact_url(path)}", path=path)
            return path
        return self.api_url + "/" + path.lstrip("/")

    def path_of(self, path: str) -> str:
        """The API-relative path ("/incidents/P1") of a path or full URL."""
        if path.startswith(self.api_url):
            path = path[len(self.api_url) :]
        path = path.split("?", 1)[0]
        return "/" + path.lstrip("/")

    @property
    def sends_credentials(self) -> bool:
        """Whether requests carry the token: only while this client points at the REST host its token is for."""
        return self.api_url == self.credential_url

    def headers(self, *, from_email: str | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Request headers; `From` is sent whenever an email is known (PagerDuty requires it with account keys).

        Neither the token nor `From` is sent when the client points away from its REST host (sends_credentials).
        """
        headers: dict[str, str] = {}
        if self.sends_credentials:
            headers["Authorization"] = f"Token token={self.token}" if self.auth == "token" else f"Bearer {self.token}"
        headers.update({"Accept": ACCEPT, "Content-Type": "application/json"})
        email = from_email or self.from_email
        if email and self.sends_credentials:
            headers["From"] = email
        if extra:
            headers.update(extra)
        return headers

    def _record_ratelimit(self, headers: Mapping[str, str]) -> None:
        found = {}
        for name in ("limit", "remaining", "reset"):
            value = _header_float(headers, f"ratelimit-{name}")
            if value is not None:
                found[name] = value
        if found:
            self.last_ratelimit = found

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_all_errors: bool = False,
        raw: bool = False,
        from_email: str | None = None,
        data: Any = None,
        files: Any = None,
        backoff: float | None = None,
        exponential: bool = True,
    ) -> Any:
        """Send one API request; returns the decoded JSON body ({} when empty) or a RawResponse with raw=True.

        Raises a PagerDutyError subclass on any failure (for raw=True only when nothing answered).
        `retry_all_errors` also retries POST/PATCH on every 5xx and network error (use only for idempotent writes).
        `data` (form fields or bytes) and `files` (multipart uploads, requests' format) replace the JSON body;
        `backoff`/`exponential` override the retry delays for this call.
        """
        method = method.upper()
        url = self.url_for(path)
        api_path = self.path_of(path)
        started = time.monotonic()
        request_headers = self.headers(from_email=from_email, extra=headers)
        if json is None and (data is not None or files) and not any(k.lower() == "content-type" for k in headers or {}):
            # Let requests write the form or multipart Content-Type (with its boundary).
            request_headers.pop("Content-Type", None)
        state = self.send(
            method,
            url,
            params=encode_params(params),
            json=json,
            data=data,
            files=files,
            headers=request_headers,
            timeout=timeout,
            max_retries=max_retries,
            retry_all_errors=retry_all_errors,
            backoff=backoff,
            exponential=exponential,
        )
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        resp = state.response
        error: PagerDutyError | None = None
        if resp is None:
            error = state.error or NetworkError("Could not reach PagerDuty")
            error.path = api_path
        else:
            self._record_ratelimit(resp.headers)
            if resp.status >= 400 and not raw:
                retry_after = self._retry_wait_for_429(resp.headers, 1) if resp.status == 429 else 0.0
                error = error_from_response(
                    status=resp.status, content=resp.content, method=method, path=api_path, retry_after=retry_after
                )
        if method not in ("GET", "HEAD", "OPTIONS"):
            if error is None and resp is not None and resp.status >= 400:
                message, code, _ = _describe(resp)
            else:
                message = error.message if error else None
                code = error.code if error else None
            self._notify_write(
                {
                    "method": method,
                    "path": api_path,
                    "url": redact_url(state.url),
                    "status": resp.status if resp is not None else None,
                    "error_message": message,
                    "error_code": code,
                    "duration_ms": duration_ms,
                    "attempts": state.attempts,
                    # In-process only, for the audit log's wording ("Resolved #171"); the recorder never stores it.
                    "body": json,
                    # The write may have been applied without an answer: the audit says "outcome unknown", keeping
                    # what was asked so a refetch can settle it.
                    "outcome_unknown": bool(getattr(error, "outcome_unknown", False)),
                    "intent": json if getattr(error, "outcome_unknown", False) else None,
                }
            )
        if error is not None:
            raise error
        assert resp is not None
        if raw:
            return resp
        return self._decode(resp, method=method, path=api_path)

    @staticmethod
    def _decode(resp: RawResponse, *, method: str, path: str) -> Any:
        if not resp.content.strip():
            return {}
        try:
            return jsonlib.loads(resp.content)
        except ValueError:
            raise PagerDutyError(
                "PagerDuty answered with a body that is not JSON",
                status=resp.status,
                errors=[resp.text[:200]],
                method=method,
                path=path,
            ) from None

    # -- convenience --------------------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json=json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    @staticmethod
    def _exception_for(method: str, path: str) -> tuple[str | None, str | None] | None:
        """(request wrapper, response key) from the spec's table for a concrete path, or None if not in the spec."""
        return lookup_wrapper(method, path)

    @staticmethod
    def _unwrap(body: Any, key: str | None) -> Any:
        if key is None or not isinstance(body, dict):
            return body
        if key in body:
            return body[key]
        dict_values = [v for v in body.values() if isinstance(v, dict)]
        if len(body) == 1 and len(dict_values) == 1:
            return dict_values[0]
        return body

    def get_entity(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """GET one entity and unwrap it: '/incidents/P1' -> body['incident']."""
        segments = [s for s in self.path_of(path).split("/") if s]
        key = singular(segments[-2]) if len(segments) >= 2 else singular(segments[-1])
        return self._unwrap(self.get(path, params, **kw), key)

    def _write_entity(self, method: str, path: str, entity: Any, wrap: str | None, **kw: Any) -> Any:
        api_path = self.path_of(path)
        exception = self._exception_for(method, api_path)
        if wrap is not None:
            request_wrap, response_key = wrap, wrap
        elif exception is not None:
            request_wrap, response_key = exception
        else:
            segments = [s for s in api_path.split("/") if s]
            collection = segments[-1] if method == "POST" or len(segments) < 2 else segments[-2]
            request_wrap = response_key = singular(collection)
        body = entity if request_wrap is None else {request_wrap: entity}
        return self._unwrap(self.request(method, path, json=body, **kw), response_key)

    def create(self, collection_path: str, entity: Any, wrap: str | None = None, **kw: Any) -> Any:
        """POST a new entity wrapped in the collection's singular name and return the unwrapped result."""
        return self._write_entity("POST", collection_path, entity, wrap, **kw)

    def update(self, path: str, entity: Any, wrap: str | None = None, **kw: Any) -> Any:
        """PUT changes to one entity ('/incidents/P1' -> {"incident": ...}) and return the unwrapped result."""
        return self._write_entity("PUT", path, entity, wrap, **kw)

    def list_all(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
        """Every record of a list endpoint (see pages.list_all)."""

        return list_all(self, path, params, **kw)

    def iter_pages(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any):
        """Pages of a list endpoint, in order (see pages.iter_pages)."""

        return iter_pages(self, path, params, **kw)

    # -- endpoints that do not follow the wrap/unwrap convention ------------------------------------------------

    def snooze_incident(self, incident_id: str, duration: int, *, from_email: str | None = None) -> dict[str, Any]:
        """Snooze an acknowledged incident for `duration` seconds (1 s to 7 days); returns the incident."""
        if not isinstance(duration, int) or isinstance(duration, bool) or not 1 <= duration <= 604800:
            raise InvalidInput(
                "Snooze duration must be a whole number of seconds between 1 and 604800 (7 days)",
                method="POST",
                path=f"/incidents/{incident_id}/snooze",
            )
        body = self.post(f"/incidents/{incident_id}/snooze", {"duration": duration}, from_email=from_email)
        return self._unwrap(body, "incident")

    def merge_incidents(
        self, target_id: str, source_ids: Iterable[str], *, from_email: str | None = None
    ) -> dict[str, Any]:
        """Merge the source incidents into the target (their alerts move, they resolve); returns the target."""
        sources = [{"id": sid, "type": "incident_reference"} for sid in source_ids]
        if not sources:
            raise InvalidInput(
                "Choose at least one incident to merge", method="PUT", path=f"/incidents/{target_id}/merge"
            )
        body = self.put(f"/incidents/{target_id}/merge", {"source_incidents": sources}, from_email=from_email)
        return self._unwrap(body, "incident")

    def create_status_update(
        self,
        incident_id: str,
        *,
        message: str,
        subject: str | None = None,
        html_message: str | None = None,
        from_email: str | None = None,
    ) -> dict[str, Any]:
        """Publish a status update on an incident; returns the status update."""
        if not message or not message.strip():
            raise InvalidInput(
                "A status update needs a message", method="POST", path=f"/incidents/{incident_id}/status_updates"
            )
        if (subject is None) != (html_message is None):
            raise InvalidInput(
                "A custom HTML email status update needs both a subject and an HTML message",
                method="POST",
                path=f"/incidents/{incident_id}/status_updates",
            )
        payload: dict[str, Any] = {"message": message}
        if subject is not None:
            payload.update(subject=subject, html_message=html_message)
        body = self.post(f"/incidents/{incident_id}/status_updates", payload, from_email=from_email)
        return self._unwrap(body, "status_update")

    def create_responder_request(
        self,
        incident_id: str,
        *,
        requester_id: str,
        message: str,
        targets: Iterable[Mapping[str, Any]],
        from_email: str | None = None,
    ) -> dict[str, Any]:
        """Ask users or escalation policies to join an incident; targets are {"id", "type"} references."""
        wrapped = [
            dict(t) if "responder_request_target" in t else {"responder_request_target": dict(t)} for t in targets
        ]
        if not wrapped:
            raise InvalidInput(
                "Choose at least one responder", method="POST", path=f"/incidents/{incident_id}/responder_requests"
            )
        payload = {"requester_id": requester_id, "message": message, "responder_request_targets": wrapped}
        body = self.post(f"/incidents/{incident_id}/responder_requests", payload, from_email=from_email)
        return self._unwrap(body, "responder_request")

    def render_template(
        self,
        template_id: str,
        *,
        incident_id: str,
        message: str | None = None,
        external: Any = None,
    ) -> dict[str, Any]:
        """Render a status-update template for an incident; returns {templated_fields, warnings, errors}."""
        payload: dict[str, Any] = {"incident_id": incident_id}
        if message is not None:
            payload["status_update"] = {"message": message}
        if external is not None:
            payload["external"] = external
        return self.post(f"/templates/{template_id}/render", payload)

    def create_override(
        self,
        schedule_id: str,
        *,
        user_id: str,
        start: str,
        end: str,
        time_zone: str = "UTC",
        from_email: str | None = None,
    ) -> dict[str, Any]:
        """Create one override (POST /schedules/{id}/overrides); returns it, or raises PagerDuty's per-item refusal.

        The endpoint answers 201 with one `{status, override, errors}` per requested override, so a refusal of
        the single item arrives inside a 201 and becomes an InvalidInput here.
        """
        path = f"/schedules/{schedule_id}/overrides"
        item = {"start": start, "end": end, "user": {"id": user_id, "type": "user_reference"}, "time_zone": time_zone}
        body = self.post(path, {"overrides": [item]}, from_email=from_email)
        first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
        status = first.get("status")
        override = first.get("override")
        if status not in (200, 201) or not isinstance(override, dict) or not override.get("id"):
            errors = [str(e) for e in first.get("errors") or []]
            raise InvalidInput(
                "PagerDuty did not create the override", status=status, errors=errors, method="POST", path=path
            )
        return override

    def manage_incidents(self, updates: list[dict[str, Any]], *, from_email: str | None = None) -> list[dict[str, Any]]:
        """Bulk-update incidents (PUT /incidents) in chunks of 250; returns every updated incident in order.

        If a chunk fails, the error carries `partial_results`: the incidents PagerDuty already updated.
        """
        results: list[dict[str, Any]] = []
        for start in range(0, len(updates), BULK_LIMIT):
            chunk = [{"type": "incident_reference", **u} for u in updates[start : start + BULK_LIMIT]]
            try:
                body = self.put("/incidents", {"incidents": chunk}, from_email=from_email)
            except PagerDutyError as exc:
                exc.partial_results = list(results)  # type: ignore[attr-defined]
                raise
            results.extend(body.get("incidents", []) if isinstance(body, dict) else [])
        return results


def _describe(resp: RawResponse) -> tuple[str, int | None, list[str]]:

    return parse_error_body(resp.content, resp.status)
