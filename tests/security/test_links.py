"""Attack: a javascript: or data: URL in PagerDuty data renders as a live link (issue 11, finding 7)."""

from __future__ import annotations

import re

import pytest
import responses
from django.template import Context, Template
from django.utils import timezone

from pdportal.web import safe_link_url

pytestmark = pytest.mark.django_db

API = "https://api.pagerduty.test"

HOSTILE = [
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    "JAVASCRIPT:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "\njavascript:alert(1)",
    "\x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\rscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    " data:text/html,x",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "file:///etc/passwd",
    "javascript&colon;alert(1)",
    "//evil.example/x",
    "/relative/path",
    "",
]
SAFE = [
    "https://acme.pagerduty.com/incidents/PABC123",
    "http://grafana.example/d/1?from=now-1h",
    "HTTPS://ACME.PAGERDUTY.COM/users/P1",
    "mailto:oncall@example.com",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_the_filter_refuses_every_non_web_scheme(url):
    assert safe_link_url(url) == ""


@pytest.mark.parametrize("url", SAFE)
def test_the_filter_keeps_web_and_mail_links(url):
    assert safe_link_url(url) == url


def test_the_template_filter_is_what_the_templates_use():
    html = Template("{% load pdportal_links %}[{{ a|safe_link }}][{{ b|safe_link }}]").render(
        Context({"a": "javascript:alert(1)", "b": "https://x.example/"})
    )
    assert html == "[][https://x.example/]"


def _live_hrefs(html: str) -> list[str]:
    """Every href whose scheme a browser would run or load, after the browser's own stripping of whitespace."""
    found = []
    for raw in re.findall(r'href="([^"]*)"', html):
        squeezed = re.sub(r"[\x00-\x20\x7f]|&#x?0*9;|&#x?0*[aA];|&#0*10;|&#0*13;", "", raw).lower()
        if squeezed.startswith(("javascript:", "data:", "vbscript:", "file:")):
            found.append(raw)
    return found


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


HOSTILE_PAGE_URLS = [u for u in HOSTILE if u and u.strip("\t\n\x01 ")][:14]


@pytest.mark.parametrize("url", HOSTILE_PAGE_URLS)
def test_an_incidents_html_url_renders_as_text(client_as, responder, url):
    from incidents.models import Incident

    Incident.objects.create(
        pd_id="PXSS001", number=7, title="Disk full", status="triggered", html_url=url, created_at=timezone.now()
    )

    html = client_as(responder).get("/incidents/PXSS001/").content.decode()

    assert "PXSS001" in html
    assert _live_hrefs(html) == []


@pytest.mark.parametrize("url", HOSTILE_PAGE_URLS)
@responses.activate
def test_change_event_links_render_as_text(client_as, responder, api_key_mode, url):
    responses.get(
        f"{API}/change_events/PCHG001",
        json={
            "change_event": {
                "id": "PCHG001",
                "type": "change_event",
                "summary": "deploy 42",
                "timestamp": "2026-11-20T10:00:00Z",
                "links": [{"href": url, "text": "the build"}, {"href": "https://ci.example/42", "text": "CI"}],
            }
        },
    )

    html = client_as(responder).get("/change-events/PCHG001/").content.decode()

    assert "the build" in html
    assert 'href="https://ci.example/42"' in html
    assert _live_hrefs(html) == []


@pytest.mark.parametrize("url", HOSTILE_PAGE_URLS[:4])
@responses.activate
def test_a_services_html_url_renders_as_text(client_as, admin, api_key_mode, url):
    responses.get(
        f"{API}/services/PSVC001",
        json={"service": {"id": "PSVC001", "type": "service", "name": "API Gateway", "html_url": url}},
    )

    html = client_as(admin).get("/services/PSVC001/").content.decode()

    assert "API Gateway" in html
    assert _live_hrefs(html) == []


@pytest.mark.parametrize("url", HOSTILE_PAGE_URLS[:4])
@responses.activate
def test_a_users_html_url_renders_as_text(client_as, admin, api_key_mode, url):
    responses.get(
        f"{API}/users/PUSR001",
        json={
            "user": {
                "id": "PUSR001",
                "type": "user",
                "name": "Mallory",
                "email": "mallory@example.com",
                "role": "user",
                "html_url": url,
            }
        },
    )

    html = client_as(admin).get("/users/PUSR001/").content.decode()

    assert "Mallory" in html
    assert _live_hrefs(html) == []


def test_a_safe_html_url_stays_a_link(client_as, responder):
    from incidents.models import Incident

    url = "https://acme.pagerduty.com/incidents/PSAFE01"
    Incident.objects.create(
        pd_id="PSAFE01", number=8, title="Disk full", status="triggered", html_url=url, created_at=timezone.now()
    )

    html = client_as(responder).get("/incidents/PSAFE01/").content.decode()

    assert f'href="{url}"' in html


def test_no_template_renders_a_pagerduty_url_without_the_filter():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    unfiltered = []
    for path in root.rglob("*.html"):
        for match in re.finditer(r'href="\{\{\s*([^}|]+?)\s*\}\}"', path.read_text()):
            # Links the portal builds itself (sort links) are fine; a bare PagerDuty value is not.
            if not match.group(1).startswith(("sort_links.", "href")):
                unfiltered.append(f"{path.relative_to(root)}: {match.group(0)}")
    assert unfiltered == []


@pytest.mark.parametrize("url", HOSTILE_PAGE_URLS[:6])
def test_an_alerts_link_context_renders_as_text_and_a_web_one_as_a_link(client_as, responder, url):
    from incidents.models import Alert, Incident

    incident = Incident.objects.create(
        pd_id="PCTX001", number=11, title="Disk full", status="triggered", created_at=timezone.now()
    )
    contexts = [
        {"type": "link", "href": url, "text": "runbook"},
        {"type": "link", "href": "https://wiki.example/disk", "text": "wiki"},
    ]
    Alert.objects.create(
        pd_id="PALCTX1",
        incident=incident,
        status="triggered",
        summary="disk",
        created_at=timezone.now(),
        body={"contexts": contexts, "details": {}},
    )

    html = client_as(responder).get("/incidents/PCTX001/").content.decode()

    assert "runbook" in html
    assert 'href="https://wiki.example/disk"' in html
    assert _live_hrefs(html) == []
