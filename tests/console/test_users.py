"""Users pages against the sandbox: List/Get/Create/Update/Delete User, and a refusal that reads well."""

from __future__ import annotations

from urllib.parse import parse_qs

from accounts.models import AuditEntry, PagerDutyUser
from tests.services.conftest import requests_to


def test_it_lists_users_with_query_and_team_filters(pd, admin_client):
    admin_client.get("/users/")
    team = PagerDutyUser.objects.get(email="responder2@example.com").teams.get()
    pd.clear_log()

    response = admin_client.get("/users/", {"query": "Ravi", "team": team.pd_id})

    query = parse_qs(requests_to(pd, "GET", "/users")[0]["query"])
    assert query["query"] == ["Ravi"]
    assert query["team_ids[]"] == [team.pd_id]
    html = response.content.decode()
    assert "Ravi Responder" in html
    assert "Rita Responder" not in html


def test_it_shows_contact_methods_notification_rules_and_teams(pd, admin_client):
    pd_id = pd.user_id("responder@example.com")

    response = admin_client.get(f"/users/{pd_id}/")

    assert response.status_code == 200
    fetched = requests_to(pd, "GET", f"/users/{pd_id}")
    assert set(parse_qs(fetched[0]["query"])["include[]"]) == {"contact_methods", "notification_rules", "teams"}
    html = response.content.decode()
    contact = html.split('id="user-contact-methods"', 1)[1].split("</section>", 1)[0]
    assert "responder@example.com" in contact
    rules = html.split('id="user-notification-rules"', 1)[1].split("</section>", 1)[0]
    assert "high" in rules and "None." not in rules
    teams = html.split('id="user-teams"', 1)[1].split("</section>", 1)[0]
    assert "Platform" in teams


def test_it_creates_updates_and_deletes_a_user(pd, admin, admin_client):
    response = admin_client.post(
        "/users/new/",
        {
            "name": "Nina Newhire",
            "email": "nina@example.com",
            "role": "limited_user",
            "time_zone": "Europe/Madrid",
            "job_title": "Support",
        },
    )
    assert response.status_code == 302
    user = PagerDutyUser.objects.get(email="nina@example.com")
    created = requests_to(pd, "POST", "/users")
    assert len(created) == 1
    remote = pd.get(f"/users/{user.pd_id}").json()["user"]
    assert (remote["role"], remote["time_zone"], remote["job_title"]) == ("limited_user", "Europe/Madrid", "Support")
    assert AuditEntry.objects.get(method="POST", path="/users").actor == admin
    assert "Nina Newhire" in admin_client.get(response["Location"]).content.decode()

    response = admin_client.post(
        f"/users/{user.pd_id}/edit/",
        {
            "name": "Nina Newhire",
            "email": "nina@example.com",
            "role": "user",
            "time_zone": "Asia/Tokyo",
            "job_title": "SRE",
        },
    )
    assert response.status_code == 302
    remote = pd.get(f"/users/{user.pd_id}").json()["user"]
    assert (remote["role"], remote["time_zone"], remote["job_title"]) == ("user", "Asia/Tokyo", "SRE")
    user.refresh_from_db()
    assert user.time_zone == "Asia/Tokyo"
    page = admin_client.get(f"/users/{user.pd_id}/").content.decode()
    assert "Asia/Tokyo" in page and "SRE" in page

    assert "Delete user" in admin_client.get(f"/users/{user.pd_id}/delete/").content.decode()
    response = admin_client.post(f"/users/{user.pd_id}/delete/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/users/")
    user_list = response.content.decode().split('id="user-list"', 1)[1]
    assert "Nina Newhire" not in user_list
    assert "deleted in PagerDuty" in response.content.decode()
    assert pd.get(f"/users/{user.pd_id}").status_code == 404
    assert not PagerDutyUser.objects.filter(pd_id=user.pd_id).exists()


def test_it_explains_why_a_user_with_open_incidents_cannot_be_deleted(pd, admin_client):
    incidents = pd.get("/incidents", params={"statuses[]": ["triggered", "acknowledged"], "limit": 100}).json()
    assignee = next(a["assignee"] for i in incidents["incidents"] for a in i.get("assignments", []))
    admin_client.get(f"/users/{assignee['id']}/")

    response = admin_client.post(f"/users/{assignee['id']}/delete/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "PagerDuty refused to delete" in html
    assert "open incidents" in html and "resolve or reassign them" in html
    assert PagerDutyUser.objects.filter(pd_id=assignee["id"]).exists()
    assert pd.get(f"/users/{assignee['id']}").status_code == 200


def test_it_shows_the_refusal_of_a_duplicate_email(pd, admin_client):
    response = admin_client.post(
        "/users/new/",
        {"name": "Copy", "email": "admin@example.com", "role": "user", "time_zone": "UTC", "job_title": ""},
    )

    assert response.status_code == 200
    assert 'id="pd-error"' in response.content.decode()
    assert PagerDutyUser.objects.filter(email="admin@example.com").count() == 1
