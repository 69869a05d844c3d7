"""Saved views: a person's named filter sets, each one a query string (its URL), theirs alone to list and delete."""

from __future__ import annotations

import re

import pytest

from incidents import actions, selectors
from incidents.models import SavedView
from tests.personas import make_portal_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def attacker(db):
    """Another responder of the same account, who would like to read or remove someone else's views."""
    return make_portal_user(email="responder2@example.com")


def test_saving_keeps_only_the_filters_of_the_query(responder):
    view = actions.saved_view_save(
        owner=responder, name="My P1s", query="status=triggered&priority=PPRI1&page=3&partial=incident-table&x=1"
    )
    assert view.query == "status=triggered&priority=PPRI1"
    assert view.url == "/?status=triggered&priority=PPRI1"


def test_saving_the_same_name_again_replaces_the_filters(responder):
    actions.saved_view_save(owner=responder, name="Mine", query="assigned=me")
    actions.saved_view_save(owner=responder, name="Mine", query="assigned=me&urgency=high")
    assert [(v.name, v.query) for v in selectors.saved_views_of(owner=responder)] == [
        ("Mine", "assigned=me&urgency=high")
    ]


def test_a_blank_name_is_refused_with_a_message(client_as, responder):
    response = client_as(responder).post("/views/", {"name": "  ", "query": "assigned=me"}, follow=True)
    assert response.status_code == 200
    assert "Give the view a name." in response.content.decode()
    assert not SavedView.objects.exists()


def test_a_responder_saves_the_current_filters_and_finds_the_view_on_the_list(client_as, responder):
    c = client_as(responder)
    response = c.post("/views/", {"name": "High, mine", "query": "assigned=me&urgency=high"})
    assert response.status_code == 302
    assert response["Location"] == "/?assigned=me&urgency=high"
    html = c.get("/").content.decode()
    assert re.search(r'<a href="/\?assigned=me&amp;urgency=high"[^>]*>High, mine</a>', html)


def test_an_observer_may_keep_views_too(client_as, observer):
    response = client_as(observer).post("/views/", {"name": "Everything open", "query": "status=triggered"})
    assert response.status_code == 302
    assert SavedView.objects.get().owner == observer


def test_an_outsider_cannot_save_a_view(client_as, outsider):
    response = client_as(outsider).post("/views/", {"name": "x", "query": "status=triggered"})
    assert response.status_code in (302, 403)
    assert not SavedView.objects.exists()


def test_another_person_never_sees_someone_elses_views(client_as, responder, attacker):
    actions.saved_view_save(owner=responder, name="Secret triage", query="assigned=me")
    assert selectors.saved_views_of(owner=attacker) == []
    assert "Secret triage" not in client_as(attacker).get("/").content.decode()


def test_the_owner_deletes_their_view(client_as, responder):
    view = actions.saved_view_save(owner=responder, name="Gone soon", query="assigned=me")
    response = client_as(responder).post(f"/views/{view.pk}/delete/", {"next_query": "assigned=me"})
    assert response.status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_an_attacker_cannot_delete_someone_elses_view(client_as, responder, attacker):
    view = actions.saved_view_save(owner=responder, name="Keep me", query="assigned=me")
    response = client_as(attacker).post(f"/views/{view.pk}/delete/")
    assert response.status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()
    assert actions.saved_view_delete(owner=attacker, view_id=view.pk) is False


def test_deleting_needs_a_post(client_as, responder):
    view = actions.saved_view_save(owner=responder, name="Stay", query="assigned=me")
    assert client_as(responder).get(f"/views/{view.pk}/delete/").status_code == 405
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_delete_goes_back_only_to_the_list(client_as, responder):
    view = actions.saved_view_save(owner=responder, name="x", query="assigned=me")
    response = client_as(responder).post(f"/views/{view.pk}/delete/", {"next_query": "https://evil.example/"})
    assert response["Location"] == "/"


def test_the_view_is_its_url_for_anyone_who_opens_it(client_as, responder, observer):
    view = actions.saved_view_save(owner=responder, name="Highs", query="urgency=high&sort=-number")
    html = client_as(observer).get(view.url).content.decode()
    assert 'value="high" checked' in html
