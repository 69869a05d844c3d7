"""Attack: overflowing dates, absurd numbers and deeply nested JSON answer a 500 (issue 11, finding 7)."""

from __future__ import annotations

import pytest
import responses

from accounts.models import AuditEntry
from pdportal.web import DATE_RANGE_MESSAGE
from tests.personas import make_portal_user

pytestmark = pytest.mark.django_db

DEPTH = 100_000
DEEP_LIST = "[" * DEPTH + "]" * DEPTH
DEEP_OBJECT = '{"a": ' * DEPTH + "1" + "}" * DEPTH
NESTED_MESSAGE = "nested too deeply"


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def far_east(db):
    """A responder whose time zone is ahead of UTC: 0001-01-01 local time is before year 1 in UTC."""
    user = make_portal_user(email="responder@example.com")
    user.profile.time_zone = "Pacific/Kiritimati"  # UTC+14
    user.profile.save()
    return user


@pytest.fixture
def far_west(db):
    """A responder behind UTC: 9999-12-31 23:59 local time is in year 10000 in UTC."""
    user = make_portal_user(email="responder2@example.com")
    user.profile.time_zone = "Pacific/Pago_Pago"  # UTC-11
    user.profile.save()
    return user


OVERFLOW_QUERIES = [
    "until=9999-12-31",
    "since=0001-01-01",
    "since=0001-01-01&until=9999-12-31",
    "until=9999-12-31 23:59",
    "until=9999-12-31T23:59:59",
    "since=9999-12-31T23:59:59-12:00",
    "since=0001-01-01T00:00:00%2B14:00",
    "since=0001-01-01 00:00",
    "until=0001-01-01",
    "since=9999-12-31",
    "until=12/31/9999",
    "since=12/31/9999 23:59",
    "since=01/01/0001",
]


@pytest.mark.parametrize("query", OVERFLOW_QUERIES)
@pytest.mark.parametrize("persona", ["far_east", "far_west"])
@pytest.mark.parametrize("url", ["/", "/?partial=incident-table", "/change-events/"])
@responses.activate
def test_an_overflowing_date_on_a_list_is_a_clear_form_error(request, client_as, api_key_mode, persona, url, query):
    # The change-event list reads PagerDuty: answer it, so only our own handling of the date is tested.
    responses.get("https://api.pagerduty.test/change_events", json={"change_events": [], "more": False})
    client = client_as(request.getfixturevalue(persona))

    response = client.get(f"{url}{'&' if '?' in url else '?'}{query}")

    assert response.status_code in (200, 400), response.status_code
    assert DATE_RANGE_MESSAGE in response.content.decode()
    assert not [c for c in responses.calls if "9999" in c.request.url or "0001" in c.request.url]


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=0001-01-01", "since=0001-01-01&until=9999-12-31"])
@pytest.mark.parametrize("htmx", [True, False])
@responses.activate
def test_bulk_select_all_with_an_overflowing_saved_filter_changes_nothing(
    client_as, far_east, api_key_mode, query, htmx
):
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = client_as(far_east).post(
        "/incidents/bulk/", {"action": "acknowledge", "select_all": "1", "query": query}, follow=not htmx, **extra
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was changed" in html
    assert DATE_RANGE_MESSAGE in html
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    "query",
    [
        "date_from=0001-01-01",
        "date_to=9999-12-31",
        "date_from=0001-01-01&date_to=9999-12-31",
        "date_from=0001-01-01&format=csv",
        "date_to=9999-12-31&format=csv",
    ],
)
def test_the_audit_log_refuses_an_out_of_range_date(client_as, admin, query):
    response = client_as(admin).get(f"/audit/?{query}")

    assert response.status_code == 200
    if "format=csv" not in query:
        assert DATE_RANGE_MESSAGE in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "page=99999999999999999999999999999999",
        "page=-99999999999999999999",
        "page=1e308",
        "page=NaN",
        "per_page=99999999999999999999",
        "per_page=-1",
        "level=99999999999999999999",
        "status=99999999999999999999999999",
    ],
)
@pytest.mark.parametrize("url", ["/", "/?partial=incident-table", "/audit/", "/change-events/"])
@responses.activate
def test_absurd_numbers_in_a_list_query_never_answer_500(client_as, admin, api_key_mode, url, query):
    responses.get("https://api.pagerduty.test/change_events", json={"change_events": [], "more": False})

    response = client_as(admin).get(f"{url}{'&' if '?' in url else '?'}{query}")

    assert response.status_code < 500


# -- deeply nested JSON --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT, "[" * 200 + "]" * 200])
@responses.activate
def test_the_api_console_refuses_deeply_nested_json_without_sending(client_as, admin, api_key_mode, body):
    response = client_as(admin).post(
        "/api-console/",
        {
            "method": "POST",
            "target": "/incidents",
            "body_type": "json",
            "json_body": body,
            "response_type": "json",
            "timeout": "5",
            "retries": "0",
            "retry_delay": "0",
        },
    )

    assert response.status_code == 200
    assert NESTED_MESSAGE in response.content.decode()
    assert len(responses.calls) == 0
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("field", ["custom_details", "links"])
@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT])
@responses.activate
def test_send_event_refuses_deeply_nested_json_without_sending(client_as, responder, api_key_mode, field, body):
    data = {
        "event_action": "trigger",
        "routing_key": "R" * 32,
        "summary": "disk full",
        "source": "db-1",
        "severity": "error",
        field: body,
    }

    response = client_as(responder).post("/events/send/", data)

    assert response.status_code == 200
    assert NESTED_MESSAGE in response.content.decode()
    assert len(responses.calls) == 0


@pytest.mark.parametrize("field", ["custom_details", "links"])
@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT])
@responses.activate
def test_send_change_event_refuses_deeply_nested_json_without_sending(client_as, responder, api_key_mode, field, body):
    data = {"routing_key": "R" * 32, "summary": "deploy 42", "source": "ci", field: body}

    response = client_as(responder).post("/change-events/send/", data)

    assert response.status_code == 200
    assert NESTED_MESSAGE in response.content.decode()
    assert len(responses.calls) == 0


@responses.activate
def test_a_deeply_nested_answer_in_the_console_is_shown_as_text_not_a_500(client_as, admin, api_key_mode):
    responses.get("https://api.pagerduty.test/abilities", body=DEEP_LIST, content_type="application/json")

    response = client_as(admin).post(
        "/api-console/",
        {
            "method": "GET",
            "target": "/abilities",
            "body_type": "none",
            "response_type": "json",
            "timeout": "5",
            "retries": "0",
            "retry_delay": "0",
            "debug": "on",
        },
    )

    assert response.status_code == 200
    assert "not JSON; shown as text" in response.content.decode()
