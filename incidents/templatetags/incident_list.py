"""Tags for the incident list's repeated markup (its rows), rendered by incidents.list_render."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.safestring import SafeString

from incidents import list_render

register = template.Library()


@register.simple_tag
def incident_rows(rows: Sequence, can_act: bool, keep_selected: object = ()) -> SafeString:
    return list_render.rows_html(rows, can_act=bool(can_act), keep_selected=keep_selected)
