"""The sandbox's schedules: rotations change hands through the week, layers and overrides stack, gaps stay empty."""

import datetime as dt

import pytest

pytestmark = pytest.mark.sandbox


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _schedule_id(sandbox, name):
    return next(s["id"] for s in sandbox.get("/schedules").json()["schedules"] if s["name"] == name)


def _final(sandbox, name, since, until):
    body = sandbox.get(
        f"/schedules/{_schedule_id(sandbox, name)}", params={"since": _iso(since), "until": _iso(until)}
    ).json()["schedule"]
    return body, [
        (_parse(e["start"]), _parse(e["end"]), e["user"]["summary"])
        for e in body["final_schedule"]["rendered_schedule_entries"]
    ]


def test_who_is_on_call_changes_over_the_seeded_week(fresh_sandbox):
    now = dt.datetime.now(dt.UTC)
    policy = next(
        p["id"]
        for p in fresh_sandbox.get("/escalation_policies").json()["escalation_policies"]
        if p["name"] == "Platform On-Call"
    )
    oncalls = fresh_sandbox.get(
        "/oncalls",
        params={
            "since": _iso(now),
            "until": _iso(now + dt.timedelta(days=7)),
            "escalation_policy_ids[]": policy,
            "limit": 100,
        },
    ).json()["oncalls"]
    scheduled = [o for o in oncalls if o["schedule"]]
    people = {o["user"]["summary"] for o in scheduled}
    assert people >= {"Rita Responder", "Omar Oncall", "Adam Admin"}
    assert all(o["escalation_level"] == 1 for o in scheduled)
    # A direct user target is on call with no start or end.
    assert any(o["schedule"] is None and o["start"] is None and o["end"] is None for o in oncalls)


def test_the_daily_rotation_hands_over_at_nine_in_the_schedules_zone(fresh_sandbox):
    now = dt.datetime.now(dt.UTC)
    _, entries = _final(fresh_sandbox, "Platform Primary", now, now + dt.timedelta(days=4))
    handoffs = [start for start, _, _ in entries[1:]]
    # 09:00 in Berlin is 07:00 or 08:00 UTC; the seeded override (12:00-18:00 UTC) adds its own edges.
    assert any(h.hour in (7, 8) and h.minute == 0 for h in handoffs)
    names = [who for _, _, who in entries]
    assert len(set(names)) == 3


def test_an_override_wins_over_the_layers_and_a_running_one_is_cut_short_when_deleted(fresh_sandbox):
    sandbox = fresh_sandbox
    schedule_id = _schedule_id(sandbox, "Mobile Business Hours")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    created = sandbox.post(
        f"/schedules/{schedule_id}/overrides",
        headers={"From": "observer@example.com"},
        json={
            "overrides": [
                {
                    "start": _iso(now - dt.timedelta(minutes=5)),
                    "end": _iso(now + dt.timedelta(hours=1)),
                    "user": {"id": sandbox.user_id("admin@example.com"), "type": "user_reference"},
                }
            ]
        },
    )
    assert created.status_code == 201, created.text
    override = created.json()[0]["override"]
    oncalls = sandbox.get("/oncalls", params={"schedule_ids[]": schedule_id}).json()["oncalls"]
    assert [o["user"]["summary"] for o in oncalls] == ["Adam Admin"]
    deleted = sandbox.delete(f"/schedules/{schedule_id}/overrides/{override['id']}")
    assert deleted.status_code == 200  # under way: truncated, not deleted
    listed = sandbox.get(
        f"/schedules/{schedule_id}/overrides",
        params={"since": _iso(now - dt.timedelta(hours=1)), "until": _iso(now + dt.timedelta(hours=2))},
    ).json()["overrides"]
    assert _parse(listed[0]["end"]) <= dt.datetime.now(dt.UTC)


def test_a_bad_override_is_refused_item_by_item(fresh_sandbox):
    schedule_id = _schedule_id(fresh_sandbox, "Platform Primary")
    answer = fresh_sandbox.post(
        f"/schedules/{schedule_id}/overrides",
        json={
            "overrides": [
                {"start": "2030-01-01T02:00:00Z", "end": "2030-01-01T01:00:00Z", "user": {"id": "PNOSUCH"}},
            ]
        },
    )
    assert answer.status_code == 201
    assert answer.json()[0]["status"] == 400
    assert "User not found" in answer.json()[0]["errors"]


def test_the_business_hours_layer_leaves_nights_and_weekends_as_gaps(fresh_sandbox):
    monday = dt.datetime.now(dt.UTC)
    monday = (monday - dt.timedelta(days=monday.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    body, entries = _final(fresh_sandbox, "Mobile Business Hours", monday, monday + dt.timedelta(days=7))
    assert len(entries) == 5  # one per weekday
    assert all(end - start == dt.timedelta(hours=10) for start, end, _ in entries)
    assert 20 < body["final_schedule"]["rendered_coverage_percentage"] < 40


def test_later_layers_take_precedence(fresh_sandbox):
    now = dt.datetime.now(dt.UTC)
    body, entries = _final(fresh_sandbox, "Payments Follow-the-Sun", now, now + dt.timedelta(days=2))
    night = [e for e in entries if e[2] == "Adam Admin"]
    assert night, "the Nights layer (admin) covers 20:00-08:00 Kolkata"
    assert body["schedule_layers"][0]["name"] == "Nights"  # highest priority first
