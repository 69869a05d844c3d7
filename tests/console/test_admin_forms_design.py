"""Every admin form is built from the design system: a stacked form on a panel (or an action row), no one-off styles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# The admin pages' forms (services, users, templates, webhooks, the API console) and Send event.
ADMIN_FORMS = [
    "services/service_form.html",
    "services/service_confirm_delete.html",
    "services/webhook_form.html",
    "services/webhook_confirm_delete.html",
    "services/webhook_remove_portal.html",
    "console/user_form.html",
    "console/user_confirm_delete.html",
    "console/template_form.html",
    "console/template_confirm_delete.html",
    "console/template_preview.html",
    "console/api_console.html",
    "incidents/event_send.html",
]
ADMIN_PAGES = [*ADMIN_FORMS, "services/service_list.html", "services/webhook_list.html", "console/user_list.html"]
CLASSES = re.compile(r'<form method="post"[^>]*\bclass="([^"]*)"')


@pytest.mark.parametrize("name", ADMIN_FORMS)
def test_each_admin_form_is_a_design_system_form(name):
    text = (TEMPLATES / name).read_text()
    forms = re.findall(r'<form method="post"[^>]*>', text)
    assert forms, "the page has a form"
    for form in forms:
        found = CLASSES.match(form)
        classes = set(found.group(1).split()) if found else set()
        # A data form is `stacked panel` with its buttons in a `form-actions` row; a confirmation is the row itself.
        assert {"stacked", "panel"} <= classes or "form-actions" in classes, form
    if any("stacked" in f for f in forms):
        assert 'class="form-actions"' in text


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_no_admin_page_carries_one_off_styles(name):
    text = (TEMPLATES / name).read_text()
    assert " style=" not in text and "<style" not in text


def test_checkbox_fields_render_inside_their_label():
    from django import forms

    class Form(forms.Form):
        active = forms.BooleanField(required=False, label="Active", help_text="Deliver events.")

    html = Form()["active"].as_field_group()
    assert '<label class="check" for="id_active"><input type="checkbox" name="active"' in html
    assert "<span>Active</span></label>" in html
    assert 'aria-describedby="id_active_helptext"' in html
