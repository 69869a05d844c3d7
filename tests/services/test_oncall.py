"""On call: the mirror of GET /oncalls, the on-call, schedule and policy pages, and "take the pager"."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.contract.openapi import validate_logged_request
from tests.personas import make_portal_user

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=False)]


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def mirrored(pd):
    """The sandbox's on-calls, schedules and policies in the mirror (what the beat task does)."""
    from accounts.clients import account_client
    from services.oncall_mirror import oncalls_refresh

    oncalls_refresh(client=account_client())
    pd.clear_log()
    return pd


def _sandbox_oncall_names(sandbox, policy_name: str | None = None) -> set[str]:
    oncalls = sandbox.get("/oncalls", params={"limit": 100}).json()["oncalls"]
    return {
        o["user"]["summary"] for o in oncalls if policy_name is None or o["escalation_policy"]["summary"] == policy_name
    }


def _schedule(name: str):
    from services.models import Schedule

    return Schedule.objects.get(name=name)


def _now_names(policy_name: str, level: int = 1) -> set[str]:
    from services.models import OnCall

    now = dt.datetime.now(dt.UTC)
    rows = OnCall.objects.filter(escalation_policy__name=policy_name, escalation_level=level).select_related("user")
    return {r.user.name for r in rows if (r.start is None or r.start <= now) and (r.end is None or r.end > now)}


def test_the_mirror_holds_who_the_sandbox_reports_on_call_now(mirrored):
    from services.models import OnCall, Schedule

    for policy in ("Platform On-Call", "Payments On-Call", "Mobile On-Call"):
        assert _now_names(policy) | _now_names(policy, 2) | _now_names(policy, 3) == _sandbox_oncall_names(
            mirrored, policy
        )
    assert Schedule.objects.count() == 3
    assert Schedule.objects.exclude(rendered_until=None).count() == 3, "every schedule rendered for the timeline"
    # Two weeks of shifts, not only the current ones: the daily Platform rotation alone has about 14.
    assert OnCall.objects.filter(schedule__name="Platform Primary").count() >= 13


def test_the_oncall_page_names_the_people_on_call_per_policy_and_level(mirrored, responder, client_as):
    page = client_as(responder).get("/oncall/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in _sandbox_oncall_names(mirrored):
        assert name in html
    assert "Next hand-off" in html and "My on-call shifts" in html
    assert 'data-live-topic="oncall schedule"' in html


def test_my_shifts_lists_the_viewers_own_next_shifts(mirrored, responder, client_as):
    html = client_as(responder).get("/oncall/?partial=my-shifts").content.decode()
    assert html.strip().startswith('<section id="my-shifts"')
    # Rita is a direct level-1 target of Platform On-Call and in its daily rotation.
    assert "Always" in html and "Platform Primary" in html


def test_taking_the_pager_for_an_hour_puts_the_person_on_call_at_once_with_their_identity(
    mirrored, client_as, settings
):
    omar = make_portal_user(email="oncall@example.com")
    schedule = _schedule("Mobile Business Hours")
    client = client_as(omar)
    response = client.post(f"/schedules/{schedule.pd_id}/take/", {"span": "1h"})
    assert response.status_code == 302, response.content.decode()[:2000]
    posts = [r for r in mirrored.requests_log(method="POST") if r["path"].endswith("/overrides")]
    assert len(posts) == 1
    assert posts[0]["from"] == "oncall@example.com"
    override = posts[0]["body"]["overrides"][0]
    assert override["user"]["id"] == omar.profile.pd_user.pd_id
    span = dt.datetime.fromisoformat(override["end"].replace("Z", "+00:00")) - dt.datetime.fromisoformat(
        override["start"].replace("Z", "+00:00")
    )
    assert span == dt.timedelta(hours=1)
    # At once, from the mirror: the on-call page and the schedule's timeline.
    assert "Omar Oncall" in _now_names("Mobile On-Call")
    oncall_rows = [
        r for r in __import__("services.models", fromlist=["OnCall"]).OnCall.objects.filter(schedule=schedule)
    ]
    assert any(r.user.name == "Omar Oncall" and r.start and r.end for r in oncall_rows)
    page = client.get(f"/schedules/{schedule.pd_id}/").content.decode()
    assert 'class="override"' in page and "Override: Omar Oncall" in page


def test_a_responder_cannot_put_someone_else_on_call_but_an_admin_can(mirrored, responder, admin, client_as):
    from services.models import ScheduleOverride

    schedule = _schedule("Platform Primary")
    adam_id = admin.profile.pd_user.pd_id
    # The user field is not offered to a responder: a forged one is ignored, the override is theirs.
    client_as(responder).post(f"/schedules/{schedule.pd_id}/take/", {"span": "4h", "user": adam_id})
    post = [r for r in mirrored.requests_log(method="POST") if r["path"].endswith("/overrides")][-1]
    assert post["body"]["overrides"][0]["user"]["id"] == responder.profile.pd_user.pd_id
    rita = make_portal_user.__globals__["seed_users"]()["responder@example.com"].pd_id
    client_as(admin).post(f"/schedules/{schedule.pd_id}/take/", {"span": "1h", "user": rita})
    post = [r for r in mirrored.requests_log(method="POST") if r["path"].endswith("/overrides")][-1]
    assert post["body"]["overrides"][0]["user"]["id"] == rita
    assert post["from"] == "admin@example.com"
    assert ScheduleOverride.objects.filter(schedule=schedule, user__pd_id=rita).count() >= 2


def test_an_until_time_in_the_past_is_refused_with_a_message_and_nothing_is_sent(mirrored, responder, client_as):
    schedule = _schedule("Platform Primary")
    response = client_as(responder).post(
        f"/schedules/{schedule.pd_id}/take/", {"span": "until", "until": "2001-01-01T10:00"}
    )
    assert response.status_code == 400
    assert "Choose a time in the future." in response.content.decode()
    assert not [r for r in mirrored.requests_log(method="POST") if r["path"].endswith("/overrides")]


def test_an_observer_cannot_take_the_pager(mirrored, observer, client_as):
    schedule = _schedule("Platform Primary")
    assert client_as(observer).post(f"/schedules/{schedule.pd_id}/take/", {"span": "1h"}).status_code == 403
    assert client_as(observer).get(f"/schedules/{schedule.pd_id}/").status_code == 200


def test_people_remove_their_own_overrides_but_not_others(mirrored, responder, admin, client_as):
    from services.models import ScheduleOverride

    schedule = _schedule("Platform Primary")
    seeded = ScheduleOverride.objects.get(schedule=schedule, user__name="Adam Admin")
    refused = client_as(responder).post(f"/schedules/{schedule.pd_id}/overrides/{seeded.pd_id}/delete/", follow=True)
    assert "only your own overrides" in refused.content.decode()
    assert not mirrored.requests_log(method="DELETE")
    client_as(responder).post(f"/schedules/{schedule.pd_id}/take/", {"span": "1h"})
    mine = ScheduleOverride.objects.get(schedule=schedule, user=responder.profile.pd_user)
    client_as(responder).post(f"/schedules/{schedule.pd_id}/overrides/{mine.pd_id}/delete/")
    deletes = mirrored.requests_log(method="DELETE")
    assert [d["path"] for d in deletes] == [f"/schedules/{schedule.pd_id}/overrides/{mine.pd_id}"]
    assert deletes[0]["from"] == "responder@example.com"
    # Under way, so PagerDuty cut it short: it no longer puts Rita on call.
    assert not ScheduleOverride.objects.filter(pd_id=mine.pd_id, end__gt=dt.datetime.now(dt.UTC)).exists()
    client_as(admin).post(f"/schedules/{schedule.pd_id}/overrides/{seeded.pd_id}/delete/")
    assert not ScheduleOverride.objects.filter(pd_id=seeded.pd_id).exists()


def test_every_request_the_portal_sends_for_on_call_is_in_the_spec(pd, responder, client_as):
    from accounts.clients import account_client
    from services.models import ScheduleOverride
    from services.oncall_mirror import oncalls_refresh

    oncalls_refresh(client=account_client())
    schedule = _schedule("Platform Primary")
    client_as(responder).post(f"/schedules/{schedule.pd_id}/take/", {"span": "1h"})
    mine = ScheduleOverride.objects.get(schedule=schedule, user=responder.profile.pd_user)
    client_as(responder).post(f"/schedules/{schedule.pd_id}/overrides/{mine.pd_id}/delete/")
    log = [r for r in pd.requests_log() if r["path"].startswith(("/oncalls", "/schedules"))]
    assert {(r["method"], r["path"].split("/")[1]) for r in log} >= {
        ("GET", "oncalls"),
        ("GET", "schedules"),
        ("POST", "schedules"),
        ("DELETE", "schedules"),
    }
    for entry in log:
        assert entry["status"] < 300, entry
        validate_logged_request(entry)


def test_escalation_policies_are_readable_by_every_role_with_levels_delays_and_who_is_on_call(
    mirrored, observer, responder, client_as
):
    from services.models import EscalationPolicy

    policy = EscalationPolicy.objects.get(name="Platform On-Call")
    for person in (observer, responder):
        assert client_as(person).get("/escalation-policies/").status_code == 200
        html = client_as(person).get(f"/escalation-policies/{policy.pd_id}/").content.decode()
        assert "Level 3" in html and "after 15 minutes" in html and "Platform Primary" in html
        for name in _now_names("Platform On-Call"):
            assert name in html


def test_a_team_scoped_role_sees_only_its_teams_schedules_policies_and_oncalls(mirrored, client_as):
    from accounts.models import Team
    from services.models import EscalationPolicy

    lena = make_portal_user(email="limited@example.com")
    lena.profile.role = "restricted_access"
    lena.profile.save()
    lena.profile.pd_user.teams.set([Team.objects.get(name="Mobile")])
    client = client_as(lena)
    schedules = client.get("/schedules/").content.decode()
    assert "Mobile Business Hours" in schedules and "Platform Primary" not in schedules
    oncall = client.get("/oncall/").content.decode()
    assert "Mobile On-Call" in oncall and "Payments On-Call" not in oncall
    platform = EscalationPolicy.objects.get(name="Platform On-Call")
    assert client.get(f"/escalation-policies/{platform.pd_id}/").status_code == 404
    assert client.get(f"/schedules/{_schedule('Platform Primary').pd_id}/").status_code == 404


def test_the_timeline_marks_gaps_and_has_a_table_fallback(mirrored, responder, client_as):
    schedule = _schedule("Mobile Business Hours")
    html = client_as(responder).get(f"/schedules/{schedule.pd_id}/?partial=schedule-timeline").content.decode()
    assert html.strip().startswith('<section id="schedule-timeline"')
    assert "<svg" in html and "<title" in html and "<desc" in html
    assert 'class="gap"' in html and "Gap: no one on call" in html
    assert "Omar Oncall" in html or "Lena Limited" in html


def test_a_policy_whose_rules_name_an_odd_schedule_id_still_renders(mirrored, responder, client_as):
    from services.models import EscalationPolicy

    policy = EscalationPolicy.objects.get(name="Platform On-Call")
    policy.raw["escalation_rules"][0]["targets"].append({"id": "", "type": "schedule_reference", "summary": "Odd"})
    policy.raw["escalation_rules"][0]["targets"].append({"id": "a/b", "type": "schedule_reference"})
    policy.save()
    response = client_as(responder).get(f"/escalation-policies/{policy.pd_id}/")
    assert response.status_code == 200
    assert "Odd (schedule)" in response.content.decode()
