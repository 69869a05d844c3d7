"""`{% url %}` remembers its answers per process (issue 13: two dozen reverse() walks per list page), same output."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.urls import NoReverseMatch, reverse

from pdportal.templatetags import pdportal_urls


def _render(source: str, **context: object) -> str:
    return Template(source).render(Context(context))


def test_it_writes_what_djangos_url_tag_writes():
    assert _render("{% url 'incidents:list' %}") == reverse("incidents:list")
    assert _render("{% url 'incidents:detail' pd_id %}", pd_id="PX<1") == reverse("incidents:detail", args=["PX<1"])
    assert _render("{% url 'incidents:list' as href %}[{{ href }}]") == f"[{reverse('incidents:list')}]"


def test_it_reverses_each_link_once(monkeypatch):
    pdportal_urls._reverse.cache_clear()
    calls = []
    original = pdportal_urls.reverse
    monkeypatch.setattr(pdportal_urls, "reverse", lambda *a, **k: calls.append(a) or original(*a, **k))
    for _ in range(3):
        _render("{% url 'incidents:list' %}{% url 'incidents:detail' 'P1' %}")
    assert len(calls) == 2


def test_an_unknown_name_still_fails_unless_stored_in_a_variable():
    with pytest.raises(NoReverseMatch):
        _render("{% url 'no-such-view' %}")
    assert _render("{% url 'no-such-view' as href %}[{{ href }}]") == "[]"


@override_settings(FORCE_SCRIPT_NAME="/portal/")
def test_a_changed_setting_is_not_answered_from_memory():
    from django.urls import set_script_prefix

    set_script_prefix("/portal/")
    try:
        assert _render("{% url 'incidents:list' %}").startswith("/portal/")
    finally:
        set_script_prefix("/")
