"""The incident list's rows built with string formatting: one reverse() per page, no template per row.

The list renders up to 250 rows; through the template engine each cost two reverse() calls, three date
filters and a prefetch walk. The markup is the template's own, so the page looks and behaves the same.

A column is one entry of COLUMNS: its sort key, its heading and the function that writes its <td> (every value
escaped there). Adding one: a cell function here, its entry in COLUMNS, the value in
incidents.selectors.IncidentRow/ROW_COLUMNS, and its sort in incidents.forms.SORTS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape as _escape
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from incidents.models import snooze_end
from pdportal.templatetags.ages import compact_age
from pdportal.templatetags.pdportal_time import when

if TYPE_CHECKING:
    from incidents.selectors import IncidentRow

_ID_PLACEHOLDER = "PDPORTALID"
# The standard library's escape: Django's adds a lazy-string check per call (same output).
esc = _escape


class Page:
    """What every cell of one rendered page shares: computed once per page, not per row."""

    __slots__ = ("_badges", "detail", "now", "zone")

    def __init__(self) -> None:
        # One reverse() for the page; every row's link is the same pattern with its id.
        self.detail = reverse("incidents:detail", args=[_ID_PLACEHOLDER])
        self.now = timezone.now()
        self.zone = timezone.get_current_timezone()
        self._badges: dict[str, str] = {}

    def url(self, row: IncidentRow) -> str:
        return esc(self.detail.replace(_ID_PLACEHOLDER, row.pd_id))

    def priority_badge(self, name: str) -> str:
        badge = self._badges.get(name)
        if badge is None:  # a page shows a handful of priorities: slugify each once
            badge = self._badges[name] = _PRIORITY.format(slug=esc(slugify(name)), name=esc(name))
        return badge

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)  # the `date` filter's localtime


_PRIORITY = '<span class="badge priority priority-{slug}">{name}</span>'


def _number(row: IncidentRow, page: Page) -> str:
    return f'<td class="col-num"><a href="{page.url(row)}">{row.number}</a></td>'


def _title(row: IncidentRow, page: Page) -> str:
    return f'<td class="col-title"><a href="{page.url(row)}">{esc(row.title)}</a></td>'


def _status(row: IncidentRow, page: Page) -> str:
    status = esc(row.status)
    return f'<td class="col-status"><span class="status-{status}">{status}</span>{_timer(row)}</td>'


def _timer(row: IncidentRow) -> str:
    """What PagerDuty does next, under the status, from the row's own columns (the incident page's rules:
    incidents.models.snooze_end); most rows have none and cost one comparison."""
    status = row.status
    if status == "acknowledged":
        until = snooze_end(status, row.unacknowledge_at, row.snoozed_until)
        if until is not None:
            return f'<span class="timer">snoozed until {when(until)}</span>'
        if row.unacknowledge_at is not None:
            return f'<span class="timer">ack lapses {when(row.unacknowledge_at)}</span>'
    elif status == "triggered":
        level = f"level {row.escalation_level}" if row.escalation_level else ""
        if row.next_escalation_at is not None:
            return f'<span class="timer">{level}{", " if level else ""}escalates {when(row.next_escalation_at)}</span>'
        if level:
            return f'<span class="timer">{level}</span>'
    return ""


def _urgency(row: IncidentRow, page: Page) -> str:
    urgency = esc(row.urgency)
    return f'<td class="col-urgency"><span class="badge urgency-{urgency}">{urgency}</span></td>'


def _priority(row: IncidentRow, page: Page) -> str:
    name = row.priority_name
    return f'<td class="col-priority">{page.priority_badge(name) if name is not None else "—"}</td>'


def _service(row: IncidentRow, page: Page) -> str:
    return f'<td class="col-service">{esc(row.service_name or "—")}</td>'


def _assignees(row: IncidentRow, page: Page) -> str:
    return f'<td class="col-assignees">{", ".join(esc(name) for name in row.assignee_names) or "—"}</td>'


def _created(row: IncidentRow, page: Page) -> str:
    return f'<td class="col-created">{when(row.created_at)}</td>'


def _age(row: IncidentRow, page: Page) -> str:
    created = row.created_at
    if not created:
        return '<td class="col-age"><time datetime="" data-age></time></td>'
    iso = page.local(created).isoformat()
    return f'<td class="col-age"><time datetime="{iso}" data-age>{esc(compact_age(created, page.now))}</time></td>'


def _alerts(row: IncidentRow, page: Page) -> str:
    return f'<td class="col-alerts" data-label="Alerts">{row.alert_count}</td>'


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its sort key (incidents.forms.SORTS), its heading, and its <td> with every value escaped."""

    key: str
    heading: str
    cell: Callable[[IncidentRow, Page], str]


# The columns in order (the row checkbox, for responders, comes first and is not one of them).
COLUMNS: tuple[Column, ...] = (
    Column("number", "#", _number),
    Column("title", "Title", _title),
    Column("status", "Status", _status),
    Column("urgency", "Urgency", _urgency),
    Column("priority", "Priority", _priority),
    Column("service", "Service", _service),
    Column("assignees", "Assignees", _assignees),
    Column("created", "Created", _created),
    Column("age", "Age", _age),
    Column("alerts", "Alerts", _alerts),
)
# The sortable columns in order, with their headings.
SORT_HEADINGS = tuple((column.key, column.heading) for column in COLUMNS)

_SELECT = (
    '<td class="col-sel"><input type="checkbox" name="ids" value="{id}" class="row-select"{checked}'
    ' aria-label="Select #{number}"></td>'
)
_EMPTY = f'\n        <tr><td colspan="{len(COLUMNS) + 1}">No incidents match these filters.</td></tr>\n      '
_CELL_BREAK = "\n          "


def rows_html(rows: Sequence[IncidentRow], *, can_act: bool, keep_selected: object = ()) -> SafeString:
    """The list's <tbody> rows; dates in the person's active time zone."""
    if not rows:
        return mark_safe(_EMPTY)  # noqa: S308 - a constant
    kept = keep_selected if isinstance(keep_selected, set | frozenset | list | tuple) else ()
    page = Page()
    cells = [column.cell for column in COLUMNS]
    parts = []
    for row in rows:
        pd_id = esc(row.pd_id)
        select = (
            _SELECT.format(id=pd_id, number=row.number, checked=" checked" if row.pd_id in kept else "")
            if can_act
            else ""
        )
        tds = _CELL_BREAK.join([cell(row, page) for cell in cells])
        parts.append(
            f'\n        <tr id="incident-row-{pd_id}" data-incident="{pd_id}">{_CELL_BREAK}{select}{_CELL_BREAK}{tds}'
            "\n        </tr>\n      "
        )
    return mark_safe("".join(parts))  # noqa: S308 - every cell escapes its values


def _values(value: object) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return {value}
    return {str(v) for v in value}  # type: ignore[union-attr]


def _option(value: object, label: object, chosen: set[str]) -> str:
    value = str(value)
    selected = " selected" if value in chosen else ""
    return f'<option value="{_escape(value)}"{selected}>{_escape(str(label))}</option>'


def options_html(choices: Iterable[tuple[object, object]], selected: object = None) -> SafeString:
    """<option>s for a picker; `selected` is a bound field's value (one value or a list)."""
    chosen = _values(selected)
    # Values and labels are escaped by _option.
    return mark_safe("".join(_option(value, label, chosen) for value, label in choices))  # noqa: S308


def select_html(name: str, choices: Iterable[tuple[object, object]], selected: object) -> SafeString:
    """A single-choice <select> as Django's Select widget writes it (id="id_<name>")."""
    chosen = _values(selected if selected not in (None, "") else "")
    options = "".join(f"\n  {_option(value, label, chosen)}\n" for value, label in choices)
    return mark_safe(f'<select name="{_escape(name)}" id="id_{_escape(name)}">{options}\n</select>')  # noqa: S308


def checkboxes_html(name: str, choices: Iterable[tuple[object, object]], selected: object) -> SafeString:
    """A group of checkboxes, checked as the bound field's value says."""
    chosen = _values(selected)
    return mark_safe(  # noqa: S308 - values and labels are escaped
        "".join(
            f'<label><input type="checkbox" name="{_escape(name)}" value="{_escape(str(value))}"'
            f"{' checked' if str(value) in chosen else ''}> {_escape(str(label))}</label>"
            for value, label in choices
        )
    )


def sort_headers_html(links: Mapping[str, str], column: str, desc: bool) -> SafeString:
    """The sortable column headings: each links to its sort, the current one shows its direction."""
    arrow = "↓" if desc else "↑"
    return mark_safe(  # noqa: S308 - links are escaped, headings are constants
        "\n        ".join(
            f'<th><a href="{_escape(links.get(key, ""))}">{heading}</a>{arrow if key == column else ""}</th>'
            for key, heading in SORT_HEADINGS
        )
    )
