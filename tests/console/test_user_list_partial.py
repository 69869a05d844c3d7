"""The users list serves its own `?partial=user-list` fragment, so live.js can re-fetch it."""

from __future__ import annotations

from html import unescape
from urllib.parse import parse_qs, urlsplit


def test_the_list_names_its_partial_url_with_the_current_filters(pd, admin_client):
    html = admin_client.get("/users/", {"query": "Ravi"}).content.decode()

    table = html.split('<table id="user-list"', 1)[1].split(">", 1)[0]
    url = unescape(table.split('hx-get="', 1)[1].split('"', 1)[0])
    assert urlsplit(url).path == "/users/"
    assert parse_qs(urlsplit(url).query) == {"query": ["Ravi"], "partial": ["user-list"]}


def test_the_partial_is_only_the_user_table(pd, admin_client):
    admin_client.get("/users/")

    response = admin_client.get("/users/", {"query": "Ravi", "partial": "user-list"})

    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith('<table id="user-list"')
    assert html.endswith("</table>")
    assert "<h1>" not in html and "<form" not in html
    assert "Ravi Responder" in html and "Rita Responder" not in html
