"""Status-update template pages against the sandbox: List (query, sort), Create/Update/Delete, Render preview."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import responses

from incidents.models import StatusUpdateTemplate
from tests.services.conftest import requests_to


def _form(**overrides):
    data = {
        "name": "Degraded",
        "description": "Partial outage",
        "email_subject": "Degraded: {{incident.title}}",
        "email_body": "<p>{{incident.title}} is degraded.</p>",
        "message": "Degraded: {{incident.title}} ({{incident.bad_value}})",
    }
    data.update(overrides)
    return data


def _names_in_order(html: str, names: list[str]) -> list[str]:
    return sorted((n for n in names if n in html), key=html.index)


def test_it_lists_templates_with_query_and_sort(pd, admin_client):
    response = admin_client.get("/templates/", {"sort_by": "name:desc"})

    query = parse_qs(requests_to(pd, "GET", "/templates")[0]["query"])
    assert query["sort_by"] == ["name:desc"]
    names = list(StatusUpdateTemplate.objects.values_list("name", flat=True))
    assert len(names) >= 2
    assert _names_in_order(response.content.decode(), names) == sorted(names, reverse=True)

    pd.clear_log()
    first = sorted(names)[0]
    response = admin_client.get("/templates/", {"query": first})
    assert parse_qs(requests_to(pd, "GET", "/templates")[0]["query"])["query"] == [first]
    assert [n for n in names if n in response.content.decode()] == [first]


def test_it_creates_edits_and_deletes_a_template(pd, admin_client):
    response = admin_client.post("/templates/new/", _form())

    assert response.status_code == 302
    template = StatusUpdateTemplate.objects.get(name="Degraded")
    assert len(requests_to(pd, "POST", "/templates")) == 1
    remote = pd.get(f"/templates/{template.pd_id}").json()["template"]
    assert remote["templated_fields"]["email_subject"] == "Degraded: {{incident.title}}"
    assert remote["template_type"] == "status_update"

    edit = admin_client.get(f"/templates/{template.pd_id}/edit/").content.decode()
    assert "Degraded: {{incident.title}}" in edit
    response = admin_client.post(f"/templates/{template.pd_id}/edit/", _form(message="Back to normal soon"))
    assert response.status_code == 302
    assert pd.get(f"/templates/{template.pd_id}").json()["template"]["templated_fields"]["message"] == (
        "Back to normal soon"
    )
    template.refresh_from_db()
    assert template.message == "Back to normal soon"

    assert "Delete template" in admin_client.get(f"/templates/{template.pd_id}/delete/").content.decode()
    response = admin_client.post(f"/templates/{template.pd_id}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/templates/"
    assert f'id="template-{template.pd_id}"' not in response.content.decode()
    assert pd.get(f"/templates/{template.pd_id}").status_code == 404
    assert not StatusUpdateTemplate.objects.filter(pd_id=template.pd_id).exists()


def test_it_previews_a_template_against_an_incident_with_pagerdutys_warnings(pd, admin_client):
    admin_client.post("/templates/new/", _form())
    template = StatusUpdateTemplate.objects.get(name="Degraded")
    incident = pd.get("/incidents", params={"limit": 1}).json()["incidents"][0]

    response = admin_client.post(
        f"/templates/{template.pd_id}/preview/", {"incident": incident["id"], "message": "Investigating"}
    )

    assert len(requests_to(pd, "POST", f"/templates/{template.pd_id}/render")) == 1
    html = response.content.decode()
    subject = html.split('id="rendered-subject">', 1)[1].split("</dd>", 1)[0]
    assert subject == f"Degraded: {incident['title']}"
    warnings = html.split('id="render-warnings"', 1)[1].split("</div>", 1)[0]
    assert "{{incident.bad_value}} does not exist." in warnings


def test_it_returns_only_the_preview_fragment_to_htmx(pd, admin_client):
    admin_client.post("/templates/new/", _form())
    template = StatusUpdateTemplate.objects.get(name="Degraded")

    response = admin_client.post(
        f"/templates/{template.pd_id}/preview/", {"incident": "QNOPE000"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="template-preview"')
    assert "PagerDuty refused" in html and "QNOPE000" in html


@responses.activate
def test_it_shows_render_errors_and_warnings_in_either_shape(admin, client_as, settings, api_key_mode):
    settings.SECURE_SSL_REDIRECT = False
    StatusUpdateTemplate.objects.create(pd_id="PTPL001", name="T", message="m")
    responses.post(
        f"{settings.PAGERDUTY_API_URL}/templates/PTPL001/render",
        json={
            "templated_fields": {"email_subject": "S", "email_body": "<b>B</b>", "message": "M"},
            "warnings": {"message": ["{{x}} does not exist."]},
            "errors": ["Template failed to parse"],
        },
    )

    html = client_as(admin).post("/templates/PTPL001/preview/", {"incident": "Q1"}).content.decode()

    assert json.loads(responses.calls[0].request.body) == {"incident_id": "Q1"}
    assert "message: {{x}} does not exist." in html
    assert "Template failed to parse" in html
    assert "&lt;b&gt;B&lt;/b&gt;" in html  # the HTML body is shown as source, never rendered into the page
