"""Tags for the incident list's repeated markup (its rows), rendered by incidents.list_render."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django import template
from django.utils.safestring import SafeString

from incidents import list_render

register = template.Library()


@register.simple_tag
def incident_rows(rows: Sequence, can_act: bool, keep_selected: object = ()) -> SafeString:
    return list_render.rows_html(rows, can_act=bool(can_act), keep_selected=keep_selected)


@register.simple_tag
def options(choices: Iterable[tuple[object, object]], selected: object = None) -> SafeString:
    return list_render.options_html(choices, selected)


@register.simple_tag
def single_select(name: str, choices: Iterable[tuple[object, object]], selected: object) -> SafeString:
    return list_render.select_html(name, choices, selected)


@register.simple_tag
def checkboxes(name: str, choices: Iterable[tuple[object, object]], selected: object) -> SafeString:
    return list_render.checkboxes_html(name, choices, selected)


@register.simple_tag
def sort_headers(links: Mapping[str, str], column: str, desc: bool) -> SafeString:
    return list_render.sort_headers_html(links, column, bool(desc))
