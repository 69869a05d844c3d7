"""Reads of the admin console: the people and template mirror, the audit log, and the console's host rules."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.models import AuditEntry, PagerDutyUser
from accounts.visibility import Viewer, people_visible_to
from incidents.models import Incident, StatusUpdateTemplate
from incidents.selectors import incidents_visible_to
from services.models import Service


def user_list(*, viewer: Viewer, query: str = "", team_id: str = "") -> QuerySet[PagerDutyUser]:
    """The people directory as this person may see it (accounts.visibility)."""
    qs = people_visible_to(viewer=viewer).prefetch_related("teams")
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(email__icontains=query))
    if team_id:
        qs = qs.filter(teams__pd_id=team_id).distinct()
    return qs.order_by("name", "pd_id")


def user_get(*, viewer: Viewer, pd_id: str) -> PagerDutyUser | None:
    return people_visible_to(viewer=viewer).prefetch_related("teams").filter(pd_id=pd_id).first()


def template_list(*, query: str = "", sort_by: str = "name", ordered_ids: list[str] | None = None):
    """Templates from the mirror; `ordered_ids` (PagerDuty's answer) keeps PagerDuty's order and selection."""

    qs = StatusUpdateTemplate.objects.all()
    if ordered_ids is not None:
        rows = {t.pd_id: t for t in qs.filter(pd_id__in=ordered_ids)}
        return [rows[i] for i in ordered_ids if i in rows]
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(description__icontains=query))
    field, _, direction = sort_by.partition(":")
    # The mirror has no created_at column for templates; fall back to the id, which PagerDuty hands out in order.
    column = "name" if field == "name" else "pd_id"
    return list(qs.order_by(("-" if direction == "desc" else "") + column))


def template_get(*, pd_id: str):

    return StatusUpdateTemplate.objects.filter(pd_id=pd_id).first()


def incident_choices(*, viewer: Viewer, limit: int = 50) -> list[tuple[str, str]]:
    """The newest incidents this person may see, for the API console's pickers."""
    rows = incidents_visible_to(viewer=viewer).order_by("-created_at").values_list("pd_id", "number", "title")[:limit]
    return [(pd_id, f"#{number} {title[:80]} ({pd_id})") for pd_id, number, title in rows]


# -- audit log ---------------------------------------------------------------------------------------------------


def audit_entries(
    *,
    actor: str = "",
    operation: str = "",
    status: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEntry]:
    """Audit entries, newest first. `status`: "ok" (2xx/3xx), "error" (4xx/5xx or no answer) or an HTTP code."""
    qs = AuditEntry.objects.select_related("actor")
    if actor:
        qs = qs.filter(Q(actor_label__icontains=actor) | Q(actor__username__icontains=actor))
    if operation:
        qs = qs.filter(operation__icontains=operation)
    if status == "ok":
        qs = qs.filter(status__gte=200, status__lt=400)
    elif status == "error":
        qs = qs.filter(Q(status__gte=400) | Q(status__isnull=True))
    elif status.isdigit():
        qs = qs.filter(status=int(status))
    if date_from:
        qs = qs.filter(created_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(created_at__date__lte=date_to)
    return qs.order_by("-created_at", "-id")


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as the page reads it: what was done, in words, and where its target lives in the portal."""

    entry: AuditEntry
    says: str
    incident_id: str = ""  # the page links it with {% url %}, never a stored string
    service_id: str = ""


def audit_rows(*, entries: Iterable[AuditEntry]) -> list[AuditRow]:
    """Each entry in words: "Resolved #171" (an incident by number), "Deleted service Checkout", or its operation."""
    entries = list(entries)
    targets = {e.target for e in entries if e.target}
    incidents = dict(Incident.objects.filter(pd_id__in=targets).values_list("pd_id", "number"))
    services = dict(Service.objects.filter(pd_id__in=targets).values_list("pd_id", "name"))
    rows = []
    for e in entries:
        if not e.action:
            rows.append(AuditRow(entry=e, says=e.operation))
        elif e.target in incidents:
            rows.append(AuditRow(entry=e, says=f"{e.action} #{incidents[e.target]}", incident_id=e.target))
        elif e.target in services:
            rows.append(AuditRow(entry=e, says=f"{e.action} {services[e.target]}", service_id=e.target))
        else:
            rows.append(AuditRow(entry=e, says=f"{e.action} {e.target}".strip()))
    return rows


def audit_operations() -> list[str]:
    return list(AuditEntry.objects.order_by("operation").values_list("operation", flat=True).distinct()[:200])


# -- raw API console ---------------------------------------------------------------------------------------------


class ForeignHost(ValueError):
    """The console only ever calls the configured PagerDuty hosts; it is not an open proxy."""


@dataclass(frozen=True)
class ConsoleTarget:
    base_url: str  # the configured PagerDuty base URL the request goes to
    path: str  # path (and query) relative to base_url
    url: str  # the full URL
    credentialed: bool = True  # the REST API host: the only one that receives the person's token


@dataclass(frozen=True)
class ConsoleHost:
    """One configured PagerDuty base URL and what it serves (one host may serve all three, as the sandbox does)."""

    url: str
    serves: tuple[str, ...]

    @property
    def credentialed(self) -> bool:
        return "REST API" in self.serves


def console_host_list() -> list[ConsoleHost]:
    """The configured PagerDuty base URLs, each once, REST first: the only hosts the console calls."""
    named = [
        ("REST API", settings.PAGERDUTY_API_URL),
        ("Events API v2", settings.PAGERDUTY_EVENTS_URL),
        ("OAuth", settings.PAGERDUTY_OAUTH_URL),
    ]
    hosts: dict[str, list[str]] = {}
    for name, url in named:
        if url:
            hosts.setdefault(url.rstrip("/"), []).append(name)
    return [ConsoleHost(url=url, serves=tuple(names)) for url, names in hosts.items()]


def console_hosts() -> list[str]:
    """The configured PagerDuty base URLs (REST, Events, OAuth), each once."""
    return [host.url for host in console_host_list()]


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ForeignHost(f"“{url}” does not have a valid host and port.") from None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


# A scheme at the start ("http:", "HTTP:", "javascript:"), as RFC 3986 and browsers read one.
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_MAX_DECODE_ROUNDS = 4


def _decodings(text: str) -> list[str]:
    """The text and every percent-decoding of it (double, triple… encoding), until nothing changes."""
    seen = [text]
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(seen[-1])
        if decoded == seen[-1]:
            break
        seen.append(decoded)
    return seen


def _path_problem(path: str) -> str:
    """Why a console path could leave the API host (or be read so by some parser), or "" when it is a plain path.

    Every spelling counts: each percent-decoding is checked as well, since a proxy or server may decode again.
    """
    for text in _decodings(path):
        if any(ord(c) < 0x21 or ord(c) >= 0x7F for c in text):
            # Browsers and urllib drop tabs and newlines inside URLs ("/\t/evil" becomes "//evil").
            return "it contains spaces, control or non-ASCII characters"
        if "\\" in text:
            return "it contains a backslash, which some URL parsers read as a slash"
        bare = text.lstrip("/")
        if text.startswith("//"):
            return "it starts with //, which names another host"
        if _SCHEME.match(bare):
            return "it starts with a scheme (such as http:), which names another host"
        if "@" in text:
            return "it contains @, which can name another host"
        if "#" in text:
            return "it contains #"
        if ".." in text.split("/"):
            return "it contains a .. segment"
    return ""


def _checked_path(path: str, original: str) -> str:
    problem = _path_problem(path)
    if problem:
        raise ForeignHost(f"“{original}” is not a path on the PagerDuty API: {problem}.")
    return path


def resolve_console_target(target: str) -> ConsoleTarget:
    """Where a console request goes: a path on the REST API, or a full URL on one of the configured hosts.

    The target is split into an origin and a path. Raises ForeignHost, before anything is sent, for another
    host, another scheme, credentials in the URL, or a path that any parser could read as absolute or
    network-relative (`//evil`, `\\evil`, `http:/x`, `/http://evil`, percent-encoded or with tabs inside).
    """
    target = (target or "").strip()
    if not target:
        raise ForeignHost("Enter a path such as /incidents, or a full PagerDuty URL.")
    allowed = ", ".join(console_hosts())
    path_part, sep, query = target.partition("?")
    # A full URL only when it starts with http(s)://, spelled exactly: anything else that names a scheme
    # ("HTTP:\\x", "http:/x", "javascript:") is refused by the path check below.
    if re.match(r"^https?://", target, re.IGNORECASE) and "\\" not in path_part:
        try:
            parts = urlsplit(target)
        except ValueError:  # "[::1", "[host]", or a netloc that NFKC turns into "#@": not a PagerDuty URL
            raise ForeignHost(f"“{target}” is not a URL on a configured PagerDuty host ({allowed}).") from None
        if not parts.hostname:
            raise ForeignHost(f"Only http(s) URLs on the configured PagerDuty hosts are allowed ({allowed}).")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise ForeignHost("URLs with embedded credentials are not allowed.")
        if parts.fragment:
            raise ForeignHost(f"“{target}” has a #fragment; remove it.")
        for base in console_hosts():
            base_parts = urlsplit(base)
            if _origin(target) == _origin(base):
                prefix = base_parts.path.rstrip("/")
                if prefix and not (parts.path == prefix or parts.path.startswith(prefix + "/")):
                    continue
                rest = _checked_path(parts.path[len(prefix) :] or "/", target)
                path = rest + (f"?{parts.query}" if parts.query else "")
                rest_api = base == settings.PAGERDUTY_API_URL.rstrip("/")
                return ConsoleTarget(base_url=base, path=path, url=base + path, credentialed=rest_api)
        raise ForeignHost(
            f"Refused: {parts.hostname} is not a PagerDuty host configured for this portal. "
            f"The API console only calls {allowed}."
        )
    path = _checked_path(path_part if path_part.startswith("/") else "/" + path_part, target)
    base = settings.PAGERDUTY_API_URL.rstrip("/")
    path = path + (sep + query if query else "")
    return ConsoleTarget(base_url=base, path=path, url=base + path)
