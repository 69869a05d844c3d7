"""Every request carries the PagerDuty deadline; a deadline error that escapes a view is a message, never a 500."""

import pytest

from pdportal.pagerduty.deadline import current

pytestmark = pytest.mark.django_db

MESSAGE = "PagerDuty did not answer within 8 s. We will show the result as soon as PagerDuty reports it."


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.pdportal.deadline_urls"
    settings.SECURE_SSL_REDIRECT = False
    settings.PAGERDUTY_REQUEST_DEADLINE = 8


def test_each_request_runs_under_the_setting_deadline(client):
    assert client.get("/t/deadline/").content == b"8.0"
    assert current() is None  # and none is left behind for background work in this thread


def test_a_full_page_gets_the_message_not_a_500(client):
    response = client.get("/t/slow/")
    assert response.status_code == 504
    assert MESSAGE in response.content.decode()
    assert 'id="pagerduty-slow"' in response.content.decode()


def test_an_htmx_request_gets_the_message_above_the_content(client):
    response = client.get("/t/slow/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#main" and response["HX-Reswap"] == "beforebegin"
    assert MESSAGE in response.content.decode()
