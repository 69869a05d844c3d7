"""An incident's `html_url` opens the sandbox's own incident page (PagerDuty's web app, in miniature)."""

import httpx
import pytest

pytestmark = pytest.mark.sandbox


def test_an_incidents_html_url_opens_its_page_on_the_sandbox(sandbox):
    incident = sandbox.get("/incidents", params={"limit": 1}).json()["incidents"][0]
    assert incident["html_url"] == f"{sandbox.url}/web/incidents/{incident['id']}"
    page = httpx.get(incident["html_url"], timeout=10)  # a browser: no API token
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"[#{incident['incident_number']}]" in page.text
    assert f'id="incident-status">{incident["status"]}<' in page.text


def test_an_unknown_incident_page_is_a_404(sandbox):
    assert httpx.get(f"{sandbox.url}/web/incidents/PNOPE00", timeout=10).status_code == 404
