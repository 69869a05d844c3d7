"""Web helpers shared by every app: bounded JSON, sane dates, safe link URLs, the form renderer, streamed downloads."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.core.handlers.asgi import ASGIRequest
from django.forms.renderers import TemplatesSetting
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

# Deeper than any real PagerDuty payload, and far below the interpreter's recursion limit, which every later
# step (redaction, json.dumps, the template) would otherwise hit one by one.
MAX_JSON_DEPTH = 64

# Dates a person may filter by: wide enough for any PagerDuty data, narrow enough that no time zone shift
# or "end of that day" step can leave Python's or the database's datetime range.
EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."


class JsonInputError(ValueError):
    """Text that is not JSON the portal will accept; the message says why, in words for a form.

    `detail` is the parser's own words ("Expecting value at line 1") for a syntax error, "" when too deep.
    """

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def json_depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value, without recursion (a scalar is 0, `[]` is 1)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json_input(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode JSON typed into a form; JsonInputError (never RecursionError) for bad or too deeply nested input."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonInputError(f"It is nested too deeply (PD Portal accepts at most {max_depth} levels).") from None
    except ValueError as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        detail = (exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)) + where
        raise JsonInputError(f"This is not valid JSON ({detail}).", detail=detail) from None
    if json_depth(value) > max_depth:
        raise JsonInputError(f"It is nested too deeply (PD Portal accepts at most {max_depth} levels).")
    return value


def check_date_range(value: dt.date | dt.datetime | None) -> None:
    """ValidationError for a date outside EARLIEST_DATE..LATEST_DATE (9999-12-31 overflows a day later)."""
    if value is None:
        return
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise forms.ValidationError(DATE_RANGE_MESSAGE, code="date_range")


def _date_range_first(value: Any) -> None:
    # Reject an out-of-range date before any arithmetic on it (time zone conversion, "the end of that day").
    if isinstance(value, str):
        match = re.match(r"\s*(\d{1,4})-\d{1,2}-\d{1,2}", value)
        if match and not EARLIEST_DATE.year <= int(match.group(1)) <= LATEST_DATE.year:
            raise forms.ValidationError(DATE_RANGE_MESSAGE, code="date_range")


class BoundedDateTimeField(forms.DateTimeField):
    """A DateTimeField that refuses dates outside EARLIEST_DATE..LATEST_DATE with a form error, never a 500."""

    def to_python(self, value: Any) -> dt.datetime | None:
        _date_range_first(value)
        try:
            result = super().to_python(value)
        except OverflowError:
            raise forms.ValidationError(DATE_RANGE_MESSAGE, code="date_range") from None
        check_date_range(result)
        return result


class BoundedDateField(forms.DateField):
    """A DateField that refuses dates outside EARLIEST_DATE..LATEST_DATE with a form error."""

    def to_python(self, value: Any) -> dt.date | None:
        result = super().to_python(value)
        check_date_range(result)
        return result


# -- links taken from PagerDuty data ---------------------------------------------------------------------------

SAFE_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_LINK_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)
# What browsers strip or ignore before reading a URL's scheme ("java\tscript:", " javascript:").
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]")


def safe_link_url(value: Any) -> str:
    """The URL if a browser would open it as http(s) or mailto; "" for javascript:, data:, vbscript: and others.

    Relative URLs are refused too: a link from PagerDuty data must say where it goes.
    """
    if not isinstance(value, str) or not value:
        return ""
    # Browsers drop leading/trailing C0 controls and spaces, and tabs and newlines anywhere, before parsing.
    squeezed = _IGNORED_IN_URLS.sub("", value)
    match = _LINK_SCHEME.match(squeezed)
    if match is None or match.group(1).lower() not in SAFE_LINK_SCHEMES:
        return ""
    return value.strip()


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html as a string: `True` is a bare name, `False` leaves the attribute out."""
    parts = []
    for name, value in attrs.items():
        if value is True:
            parts.append(f" {conditional_escape(name)}")
        elif value is not False:
            parts.append(f' {conditional_escape(name)}="{conditional_escape(value)}"')
    return "".join(parts)


class _SelectMarkup:
    """Django's select.html and select_option.html, written with string formatting (the same markup, byte for byte).

    Through the template engine each <option> costs about a tenth of a millisecond: the incident page's pickers
    (services, people, policies) hold hundreds of them in a real account. tests/pdportal/test_fast_select.py compares
    the output with Django's own templates."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)  # type: ignore[attr-defined]
        if self.allow_multiple_selected:  # type: ignore[attr-defined]
            final["multiple"] = True
        chosen = set(self.format_value(value))  # type: ignore[attr-defined]
        multiple = self.allow_multiple_selected  # type: ignore[attr-defined]
        has_selected = False
        parts = [f'<select name="{conditional_escape(name)}"{_attrs(final)}>']
        for group_value, group_label in self.choices:  # type: ignore[attr-defined]
            if group_value is None:
                group_value = ""
            grouped = isinstance(group_label, list | tuple)
            if grouped:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_value)}">')
            for option_value, option_label in group_label if grouped else [(group_value, group_label)]:
                selected = (not has_selected or multiple) and str(option_value) in chosen
                has_selected |= selected
                parts.append(
                    f'\n  <option value="{conditional_escape(str(option_value))}"{" selected" if selected else ""}>'
                    f"{conditional_escape(option_label)}</option>\n"
                )
            if grouped:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


class FastSelect(_SelectMarkup, forms.Select):
    """forms.Select, rendered without the template engine (same markup)."""


class FastSelectMultiple(_SelectMarkup, forms.SelectMultiple):
    """forms.SelectMultiple, rendered without the template engine (same markup)."""


_FAST = {forms.Select: FastSelect, forms.SelectMultiple: FastSelectMultiple}


def fast_selects[F: type[forms.BaseForm]](form_class: F) -> F:
    """Class decorator: the form's plain Select and SelectMultiple widgets render without the template engine."""
    for field in form_class.base_fields.values():
        fast = _FAST.get(type(field.widget))
        if fast is not None:
            field.widget = copy.copy(field.widget)
            field.widget.__class__ = fast  # the same state (attrs, choices, is_required): only the rendering differs
    return form_class


class PortalFormRenderer(TemplatesSetting):
    """Every form field through one template: a checkbox sits inside its own label (one click target, one line)."""

    field_template_name = "pdportal/forms/field.html"


def streaming_response(
    request: HttpRequest, chunks: Iterator[bytes], *, content_type: str, filename: str
) -> StreamingHttpResponse:
    """A download written as `chunks` are produced, never collected whole.

    Under ASGI, Django would first read a plain iterator into a list (to serve it asynchronously): there it gets
    an async iterator that runs each step in the request's sync thread (the database connection's), one by one.
    """
    content: Iterator[bytes] | AsyncIterator[bytes] = (
        _in_sync_thread(chunks) if isinstance(request, ASGIRequest) else chunks
    )
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


_END = object()


async def _in_sync_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    step = sync_to_async(next, thread_sensitive=True)
    while (chunk := await step(chunks, _END)) is not _END:
        yield chunk  # type: ignore[misc]
