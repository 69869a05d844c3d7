"""FastSelect and FastSelectMultiple write Django's own select markup, byte for byte, without the template engine."""

from __future__ import annotations

import pytest
from django import forms
from django.utils.safestring import mark_safe

from pdportal.web import FastSelect, FastSelectMultiple

CHOICES = [
    ("", "—"),
    ("PSVC1", 'API <Gateway> & "Edge"'),
    (2, "Two"),
    (None, "None becomes empty"),
    ("Group", [("PG1", "Grouped one"), ("PG2", "Grouped 'two'")]),
    ("PSAFE", mark_safe("<b>already safe</b>")),
]
ATTRS = [None, {"id": "id_service", "required": True, "aria-invalid": "true", "data-picker": "", "hidden": False}]


@pytest.mark.parametrize("attrs", ATTRS)
@pytest.mark.parametrize("value", [None, "", "PSVC1", 2, "PG2", "missing", ["PSVC1", "PG1"], ["PSVC1", "PSVC1"]])
def test_it_writes_what_djangos_select_writes(value, attrs):
    ours = FastSelect(choices=CHOICES, attrs={"class": "wide"}).render("service", value, attrs=attrs)
    django = forms.Select(choices=CHOICES, attrs={"class": "wide"}).render("service", value, attrs=attrs)
    assert ours == django


@pytest.mark.parametrize("attrs", ATTRS)
@pytest.mark.parametrize("value", [None, [], ["PSVC1"], ["PSVC1", "PG1", 2], "PG2"])
def test_it_writes_what_djangos_select_multiple_writes(value, attrs):
    ours = FastSelectMultiple(choices=CHOICES).render("users", value, attrs=attrs)
    django = forms.SelectMultiple(choices=CHOICES).render("users", value, attrs=attrs)
    assert ours == django


def test_a_label_and_a_value_are_escaped():
    html = FastSelect(choices=[('"><script>x</script>', "<img src=x onerror=alert(1)>")]).render("q", None)
    assert "<script>" not in html and "<img" not in html


def test_the_incident_forms_render_their_selects_without_the_template_engine():
    from incidents.forms import ReassignForm, UpdateFieldsForm

    form = UpdateFieldsForm(priorities=[("P1", "P1")], services=[("PS", "API")])
    assert type(form.fields["service"].widget) is FastSelect
    assert type(ReassignForm(users=[], policies=[]).fields["users"].widget) is FastSelectMultiple
    assert '<option value="PS">API</option>' in str(form["service"])
