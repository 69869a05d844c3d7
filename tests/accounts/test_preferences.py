"""Personal settings: time zone (PagerDuty's by default), desktop notifications, and the person's teams."""

from django.http import HttpResponse
from django.urls import path
from django.utils import timezone

from accounts.models import Team
from accounts.selectors import my_team_ids


def zone_view(request):
    return HttpResponse(timezone.get_current_timezone_name())


urlpatterns = [path("t/zone/", zone_view)]


def test_times_show_in_the_persons_pagerduty_time_zone(client_as, responder, settings):
    settings.ROOT_URLCONF = __name__
    assert client_as(responder).get("/t/zone/").content == b"Europe/Berlin"


def test_a_chosen_time_zone_wins_and_survives_the_next_sign_in(client_as, responder, settings):
    client = client_as(responder)
    response = client.post("/settings/me/", {"time_zone": "Asia/Tokyo", "notify_desktop": "on"})
    assert response.status_code == 302
    responder.profile.refresh_from_db()
    assert (responder.profile.time_zone, responder.profile.notify_desktop) == ("Asia/Tokyo", True)
    from accounts.actions import profile_link

    profile_link(user=responder, pd_user=responder.profile.pd_user)
    responder.profile.refresh_from_db()
    assert responder.profile.time_zone == "Asia/Tokyo"
    settings.ROOT_URLCONF = __name__
    assert client.get("/t/zone/").content == b"Asia/Tokyo"


def test_choosing_the_default_goes_back_to_pagerdutys_zone(client_as, responder):
    client = client_as(responder)
    client.post("/settings/me/", {"time_zone": "Asia/Tokyo"})
    client.post("/settings/me/", {"time_zone": ""})
    responder.profile.refresh_from_db()
    assert responder.profile.time_zone == "Europe/Berlin"
    assert responder.profile.notify_desktop is False


def test_an_unknown_time_zone_is_refused_with_a_message(client_as, responder):
    response = client_as(responder).post("/settings/me/", {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_the_page_lists_my_teams(client_as, responder):
    team = Team.objects.create(pd_id="PTEAM01", name="Platform")
    responder.profile.pd_user.teams.add(team)
    page = client_as(responder).get("/settings/me/").content.decode()
    assert "Platform" in page
    assert my_team_ids(user=responder) == ["PTEAM01"]


def test_an_unlinked_person_may_still_open_their_settings(client_as, outsider):
    response = client_as(outsider).get("/settings/me/")
    assert response.status_code == 200
    assert "not linked to a PagerDuty user" in response.content.decode()


def test_the_system_theme_is_the_default_and_a_chosen_theme_marks_every_page(client_as, responder):
    client = client_as(responder)
    assert "data-theme" not in client.get("/settings/me/").content.decode().split("<head>")[0]
    response = client.post("/settings/me/", {"time_zone": "", "theme": "dark"})
    assert response.status_code == 302
    responder.profile.refresh_from_db()
    assert responder.profile.theme == "dark"
    assert '<html lang="en" data-theme="dark">' in client.get("/settings/me/").content.decode()
    client.post("/settings/me/", {"time_zone": "", "theme": ""})
    assert "data-theme" not in client.get("/settings/me/").content.decode().split("<head>")[0]


def test_an_unknown_theme_is_refused_with_a_message(client_as, responder):
    response = client_as(responder).post("/settings/me/", {"time_zone": "", "theme": "neon"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
