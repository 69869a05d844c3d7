"""The change events list serves its own `?partial=change-event-list` fragment, so live.js can re-fetch it."""

from __future__ import annotations

from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from incidents.models import ChangeEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


def test_the_list_names_its_partial_url_with_the_current_filters(mirrored, client_as, responder):
    html = client_as(responder).get("/change-events/", {"integration": "PXYZ"}).content.decode()

    table = html.split('<table id="change-event-list"', 1)[1].split(">", 1)[0]
    url = unescape(table.split('hx-get="', 1)[1].split('"', 1)[0])
    assert urlsplit(url).path == "/change-events/"
    assert parse_qs(urlsplit(url).query) == {"integration": ["PXYZ"], "partial": ["change-event-list"]}


def test_the_partial_is_only_the_change_event_table(mirrored, client_as, responder):
    response = client_as(responder).get("/change-events/", {"partial": "change-event-list"})

    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith('<table id="change-event-list"')
    assert html.endswith("</table>")
    assert "<h1>" not in html and "<form" not in html
    event = ChangeEvent.objects.order_by("-timestamp").first()
    assert event is not None and event.summary in html
