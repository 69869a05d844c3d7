"""Writes (and PagerDuty round trips) of the admin console: users, templates and the raw API console."""

from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.db import transaction

from accounts.audit import describe_write
from accounts.clients import acting_client
from accounts.models import Actor, AuditEntry, PagerDutyUser
from incidents import mirror
from incidents.models import StatusUpdateTemplate
from pdportal import live
from pdportal.mirror import mark_deleted
from pdportal.pagerduty import PagerDutyClient, PagerDutyError, redact_body, redact_headers, redact_url
from pdportal.pagerduty.client import encode_params
from pdportal.pagerduty.errors import ForeignOrigin

from .selectors import ConsoleTarget, ForeignHost, resolve_console_target

USER_INCLUDES = ["contact_methods", "notification_rules", "teams"]
LIST_PAGE = 100


# -- users -------------------------------------------------------------------------------------------------------


def users_refresh(*, actor: Actor, query: str = "", team_id: str = "", client: PagerDutyClient | None = None) -> list:
    """List Users with the page's filters into the mirror; returns their ids in PagerDuty's order."""
    params: dict[str, Any] = {"limit": LIST_PAGE, "query": query or None}
    if team_id:
        params["team_ids"] = [team_id]
    body = acting_client(actor=actor, client=client).get("/users", params)
    users = body.get("users", []) if isinstance(body, dict) else []
    with transaction.atomic():
        for data in users:
            mirror.upsert_user(data)
    return [u["id"] for u in users if u.get("id")]


def user_fetch(*, actor: Actor, pd_id: str, client: PagerDutyClient | None = None) -> PagerDutyUser | None:
    """Get User with contact methods, notification rules and teams (kept in the mirror's raw copy)."""
    data = acting_client(actor=actor, client=client).get_entity(f"/users/{pd_id}", {"include[]": USER_INCLUDES})
    with transaction.atomic():
        for team in data.get("teams") or []:
            if isinstance(team, dict) and team.get("type") == "team":
                mirror.upsert_team(team)
        return mirror.upsert_user(data)


def _publish_users(ids: list[str], event: str = "changed") -> None:
    transaction.on_commit(lambda: live.publish(topic="user", ids=ids, event=event))


def user_create(*, actor: Actor, payload: dict[str, Any], client: PagerDutyClient | None = None) -> PagerDutyUser:
    data = acting_client(actor=actor, client=client).create("/users", payload)
    with transaction.atomic():
        user = mirror.upsert_user(data)
        _publish_users([user.pd_id], "created")
    return user


def user_update(
    *, actor: Actor, user: PagerDutyUser, payload: dict[str, Any], client: PagerDutyClient | None = None
) -> PagerDutyUser:
    data = acting_client(actor=actor, client=client).update(f"/users/{user.pd_id}", payload)
    with transaction.atomic():
        updated = mirror.upsert_user(data)
        _publish_users([user.pd_id])
    return updated


def user_delete(*, actor: Actor, user: PagerDutyUser, client: PagerDutyClient | None = None) -> None:
    acting_client(actor=actor, client=client).delete(f"/users/{user.pd_id}")
    with transaction.atomic():
        mark_deleted(PagerDutyUser, user.pd_id)
        _publish_users([user.pd_id], "deleted")


# -- status-update templates -------------------------------------------------------------------------------------


def templates_refresh(
    *, actor: Actor, query: str = "", sort_by: str = "name", client: PagerDutyClient | None = None
) -> list[str]:
    """List Templates (query, sort) into the mirror; returns their ids in PagerDuty's order."""
    params = {"limit": LIST_PAGE, "query": query or None, "sort_by": sort_by or None, "template_type": "status_update"}
    body = acting_client(actor=actor, client=client).get("/templates", params)
    templates = body.get("templates", []) if isinstance(body, dict) else []
    with transaction.atomic():
        for data in templates:
            mirror.upsert_template(data)
    return [t["id"] for t in templates if t.get("id")]


def template_create(*, actor: Actor, payload: dict[str, Any], client: PagerDutyClient | None = None):
    data = acting_client(actor=actor, client=client).create("/templates", payload)
    return mirror.upsert_template(data)


def template_update(
    *, actor: Actor, template: StatusUpdateTemplate, payload: dict[str, Any], client: PagerDutyClient | None = None
):
    data = acting_client(actor=actor, client=client).update(f"/templates/{template.pd_id}", payload)
    return mirror.upsert_template(data)


def template_delete(*, actor: Actor, template: StatusUpdateTemplate, client: PagerDutyClient | None = None) -> None:

    acting_client(actor=actor, client=client).delete(f"/templates/{template.pd_id}")
    mark_deleted(StatusUpdateTemplate, template.pd_id)


@dataclass
class RenderedPreview:
    fields: dict[str, str]
    warnings: list[str]
    errors: list[str]


def _messages(value: Any, prefix: str = "") -> list[str]:
    """Flatten PagerDuty's render warnings/errors (an object per field, or the example's list of them)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [f"{prefix}{value}"]
    if isinstance(value, dict):
        return [m for key, item in value.items() for m in _messages(item, f"{key}: ")]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _messages(item, prefix)]
    return [f"{prefix}{value}"]


def template_render(
    *,
    actor: Actor,
    template: StatusUpdateTemplate,
    incident_id: str,
    message: str = "",
    client: PagerDutyClient | None = None,
) -> RenderedPreview:
    """Render Template against an incident: PagerDuty's rendered fields with its warnings and errors."""
    body = acting_client(actor=actor, client=client).render_template(
        template.pd_id, incident_id=incident_id, message=message or None
    )
    body = body if isinstance(body, dict) else {}
    return RenderedPreview(
        fields=dict(body.get("templated_fields") or {}),
        warnings=_messages(body.get("warnings")),
        errors=_messages(body.get("errors")),
    )


# -- raw API console ---------------------------------------------------------------------------------------------

MAX_SHOWN_BYTES = 512 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
DOWNLOAD_SECONDS = 15 * 60


@dataclass
class ConsoleRequest:
    method: str
    target: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body_type: str = "none"
    json_value: Any = None
    form_data: list[tuple[str, str]] = field(default_factory=list)
    upload: tuple[str, bytes, str] | None = None  # (file name, content, content type)
    upload_field: str = "file"
    response_type: str = "json"
    timeout: float = 30
    retries: int = 0
    retry_delay: float = 1.0
    exponential: bool = True
    retry_all_errors: bool = False
    debug: bool = False


@dataclass
class ConsoleResult:
    target: ConsoleTarget
    url: str = ""  # exactly what was sent, secrets redacted
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    elapsed_ms: float = 0.0
    attempts: int = 0
    body_text: str = ""
    is_json: bool = False
    truncated: bool = False
    size: int = 0
    download_key: str = ""
    content_type: str = ""
    error: str = ""
    debug: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400


def _debug_view(req: ConsoleRequest, *, client: PagerDutyClient, url: str, headers: dict) -> dict:
    """The outgoing request as the portal sends it, with the token and secret fields redacted."""
    sent_headers = client.headers(extra=headers)
    if req.body_type in ("form", "multipart") and "content-type" not in {k.lower() for k in headers}:
        sent_headers.pop("Content-Type", None)
        sent_headers["Content-Type"] = (
            "application/x-www-form-urlencoded" if req.body_type == "form" else "multipart/form-data; boundary=…"
        )
    if req.body_type == "json":
        body: Any = json.dumps(redact_body(req.json_value), indent=2)
    elif req.body_type == "form":
        body = redact_body(urlencode(req.form_data))
    elif req.body_type == "multipart":
        parts = [f"{k}={v}" for k, v in req.form_data]
        if req.upload:
            parts.append(f"{req.upload_field}=<file {req.upload[0]}, {len(req.upload[1])} bytes, {req.upload[2]}>")
        body = redact_body("&".join(parts)) if parts else ""
    else:
        body = ""
    return {
        "method": req.method,
        "url": redact_url(url),
        "headers": redact_headers(sent_headers),
        "body": body,
        "timeout": req.timeout,
        "retries": req.retries,
        "retry_delay": req.retry_delay,
        "exponential": req.exponential,
        "retry_all_errors": req.retry_all_errors,
    }


def _store_download(actor: Actor, content: bytes, content_type: str) -> str:
    key = secrets.token_urlsafe(16)
    cache.set(f"apiconsole:{actor.pk}:{key}", (content, content_type), DOWNLOAD_SECONDS)
    return key


def console_download(*, actor: Actor, key: str) -> tuple[bytes, str] | None:
    """A binary console response kept for a short while, only for the person who made the call."""
    return cache.get(f"apiconsole:{actor.pk}:{key}")


def api_console_call(*, actor: Actor, request: ConsoleRequest, client: PagerDutyClient | None = None) -> ConsoleResult:
    """Send one raw request to a configured PagerDuty host as this person; every call lands in the audit log.

    Raises selectors.ForeignHost (before anything is sent) when the target is not a PagerDuty host.
    """
    target = resolve_console_target(request.target)
    method = request.method.upper()
    shape, _ = describe_write(method, target.path)
    operation = f"api-console {shape}"
    # A copy, so pointing it at the Events or OAuth host never changes a client someone else holds. The copy
    # keeps its credential_url, so away from the REST host it sends no token and no From (client.headers).
    client = copy.copy(acting_client(actor=actor, client=client, operation=operation))
    client.api_url = target.base_url
    if not target.credentialed:
        client.credential_url = ""  # belt and braces: never the token to the Events or OAuth host
    headers = dict(request.headers)
    kwargs: dict[str, Any] = {}
    if request.body_type == "json":
        kwargs["json"] = request.json_value
    elif request.body_type == "form":
        kwargs["data"] = list(request.form_data)
    elif request.body_type == "multipart":
        kwargs["data"] = list(request.form_data)
        if request.upload:
            kwargs["files"] = {request.upload_field or "file": request.upload}
        else:
            # requests only builds a multipart body when there is a file part; an empty one keeps it multipart.
            kwargs["files"] = {"_": ("", b"")}
    try:
        # The client's own choke point, asked first: the URL exactly as it will be sent, on a configured host.
        sent_url = client.checked_url(client.url_for(target.path), encode_params(request.params))
    except ForeignOrigin as exc:
        raise ForeignHost(exc.message) from None
    result = ConsoleResult(target=target, url=redact_url(sent_url))
    if request.debug:
        result.debug = _debug_view(request, client=client, url=sent_url, headers=headers)
    try:
        response = client.request(
            method,
            target.path,
            params=request.params,
            headers=headers,
            timeout=request.timeout,
            max_retries=request.retries,
            retry_all_errors=request.retry_all_errors,
            backoff=request.retry_delay,
            exponential=request.exponential,
            raw=True,
            **kwargs,
        )
    except PagerDutyError as exc:
        result.error = str(exc)
        result.attempts = request.retries + 1
        _audit_read(actor, method, target, operation, url=result.url, status=None, error=result.error, duration_ms=0)
        return result
    result.status = response.status
    result.headers = dict(response.headers)
    result.elapsed_ms = response.elapsed_ms
    result.attempts = response.attempts
    result.size = len(response.content)
    result.content_type = response.headers.get("content-type", "")
    _fill_body(result, actor, response.content, request.response_type)
    if method in ("GET", "HEAD", "OPTIONS"):
        # The client's on_write only records writes; the console records every call.
        error = "" if response.status < 400 else f"HTTP {response.status}"
        _audit_read(
            actor,
            method,
            target,
            operation,
            url=result.url,
            status=response.status,
            error=error,
            duration_ms=response.elapsed_ms,
        )
    return result


def _fill_body(result: ConsoleResult, actor: Actor, content: bytes, response_type: str) -> None:
    if response_type == "binary":
        if len(content) <= MAX_DOWNLOAD_BYTES:
            result.download_key = _store_download(actor, content, result.content_type or "application/octet-stream")
        return
    if response_type == "json" and content.strip():
        try:
            result.body_text = json.dumps(json.loads(content), indent=2, ensure_ascii=False)
            result.is_json = True
        except (ValueError, RecursionError):  # a body nested too deeply to pretty-print is shown as text
            result.body_text = "(The response is not JSON; shown as text.)\n" + content.decode("utf-8", "replace")
    else:
        result.body_text = content.decode("utf-8", "replace")
    if len(result.body_text) > MAX_SHOWN_BYTES:
        result.body_text = result.body_text[:MAX_SHOWN_BYTES]
        result.truncated = True


def _audit_read(
    actor: Actor,
    method: str,
    target: ConsoleTarget,
    operation: str,
    *,
    url: str,
    status: int | None,
    error: str,
    duration_ms: float,
) -> None:
    if method not in ("GET", "HEAD", "OPTIONS"):
        return  # writes are already recorded by the client's on_write
    _, ident = describe_write(method, target.path)
    AuditEntry.objects.create(
        actor=actor,
        actor_label=(getattr(actor, "email", "") or actor.get_username())[:255],
        operation=operation[:128],
        method=method[:8],
        path=target.path.split("?", 1)[0][:512],
        url=url,
        target=ident[:255],
        status=status,
        error=error,
        duration_ms=int(duration_ms or 0),
    )
