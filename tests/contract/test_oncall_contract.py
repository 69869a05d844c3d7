"""Schedules, overrides, on-calls and escalation policies with schedule targets: sandbox answers against the spec."""

import datetime as dt

import pytest

ADMIN = {"From": "admin@example.com"}
RESPONDER = {"From": "responder@example.com"}


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module", autouse=True)
def _reset_after(sandbox):
    yield
    sandbox.reset()


def _schedule(sandbox, name="Platform Primary"):
    return next(s for s in sandbox.get("/schedules").json()["schedules"] if s["name"] == name)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/schedules", {}),
        ("/schedules", {"query": "platform", "include[]": ["schedule_layers", "final_schedule"], "total": "true"}),
        ("/oncalls", {}),
        ("/oncalls", {"include[]": ["users", "schedules", "escalation_policies"], "limit": 100}),
        ("/oncalls", {"since": "2026-01-01T00:00:00Z", "until": "2026-01-15T00:00:00Z", "earliest": "true"}),
        ("/escalation_policies", {"include[]": "teams"}),
    ],
)
def test_it_lists_schedules_and_oncalls_in_the_spec_shape(sandbox, check, path, params):
    body = check(sandbox.get(path, params=params), 200)
    assert {"limit", "offset", "more"} <= body.keys()


def test_it_renders_a_schedule_with_layers_overrides_and_final_entries_in_the_spec_shape(sandbox, check):
    schedule = _schedule(sandbox)
    now = dt.datetime.now(dt.UTC)
    body = check(
        sandbox.get(
            f"/schedules/{schedule['id']}",
            params={"since": _iso(now), "until": _iso(now + dt.timedelta(days=14)), "overflow": "true"},
        ),
        200,
    )["schedule"]
    assert body["schedule_layers"][0]["rendered_schedule_entries"]
    assert body["final_schedule"]["rendered_schedule_entries"]
    assert body["overrides_subschedule"]["rendered_schedule_entries"], "the seed books one override"
    check(sandbox.get(f"/schedules/{schedule['id']}", params={"time_zone": "Europe/Berlin"}), 200)


def test_it_creates_lists_and_deletes_overrides_in_the_spec_shape(sandbox, check):
    schedule = _schedule(sandbox)
    path = f"/schedules/{schedule['id']}/overrides"
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    created = check(
        sandbox.post(
            path,
            headers=RESPONDER,
            json={
                "overrides": [
                    {
                        "start": _iso(start),
                        "end": _iso(start + dt.timedelta(hours=4)),
                        "user": {"id": sandbox.user_id("responder@example.com"), "type": "user_reference"},
                        "time_zone": "UTC",
                    }
                ]
            },
        ),
        201,
    )
    assert created[0]["status"] == 201
    override_id = created[0]["override"]["id"]
    listed = check(
        sandbox.get(path, params={"since": _iso(start - dt.timedelta(days=1)), "until": _iso(start + dt.timedelta(1))}),
        200,
    )
    assert override_id in {o["id"] for o in listed["overrides"]}
    check(sandbox.delete(f"{path}/{override_id}", headers=RESPONDER), 204)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/schedules/PNOSUCH", {}, 404),
        ("GET", "/oncalls", {"params": {"since": "2026-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}}, 400),
        ("POST", "/schedules/PNOSUCH/overrides", {"headers": ADMIN, "json": {"overrides": []}}, 404),
        ("DELETE", "/schedules/PNOSUCH/overrides/QNOSUCH", {"headers": ADMIN}, 404),
    ],
)
def test_it_answers_schedule_errors_in_the_spec_shape(sandbox, check, method, path, kwargs, status):
    body = check(sandbox.request(method, path, **kwargs), status)
    assert {"message", "code"} <= body["error"].keys()


def test_an_override_without_a_window_and_a_refused_write_are_in_the_spec_shape(sandbox, check):
    schedule = _schedule(sandbox)
    check(sandbox.get(f"/schedules/{schedule['id']}/overrides"), 400)
    keys = sandbox.client.get("/_sandbox/keys").json()
    observer = next(u["api_key"] for u in keys["users"] if u["email"] == "observer@example.com")
    refused = sandbox.post(
        f"/schedules/{schedule['id']}/overrides",
        token=observer,
        json={"overrides": [{"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T01:00:00Z", "user": {"id": "P"}}]},
    )
    assert check(refused, 403)["error"]["code"] == 2010
