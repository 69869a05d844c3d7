"""PagerDuty REST v2 rules the sandbox must enforce: pagination window, From, bulk limits, state rules."""

import pytest

pytestmark = pytest.mark.sandbox

ADMIN = {"From": "admin@example.com"}


def incidents(sandbox, **params):
    response = sandbox.get("/incidents", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()["incidents"]


def put_incident(sandbox, incident_id, headers=ADMIN, **fields):
    return sandbox.put(f"/incidents/{incident_id}", headers=headers, json={"incident": {"type": "incident", **fields}})


def user_key(sandbox, email):
    keys = sandbox.client.get("/_sandbox/keys").json()
    return next(u["api_key"] for u in keys["users"] if u["email"] == email)


# --- pagination -----------------------------------------------------------------------------------


def test_it_refuses_offset_plus_limit_over_ten_thousand_with_pagerdutys_message(sandbox):
    response = sandbox.get("/incidents", params={"offset": 9_950, "limit": 100})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 2002
    assert error["errors"][0].startswith("Offset+limit exceeds maximum allowed value of 10000")


def test_it_allows_a_window_ending_exactly_at_ten_thousand(sandbox):
    response = sandbox.get("/incidents", params={"offset": 9_900, "limit": 100})
    assert response.status_code == 200
    assert response.json()["incidents"] == []


def test_it_reports_total_only_when_asked_and_caps_limit_at_one_hundred(fresh_sandbox):
    sandbox = fresh_sandbox  # counts and numbers of the seed itself
    plain = sandbox.get("/incidents", params={"limit": 500}).json()
    assert plain["total"] is None
    assert plain["limit"] == 100
    assert len(plain["incidents"]) == 100
    assert plain["more"] is True
    counted = sandbox.get("/incidents", params={"total": "true", "limit": 1}).json()
    assert counted["total"] == 200


def test_it_searches_the_last_month_by_default_and_at_most_six_months(fresh_sandbox):
    sandbox = fresh_sandbox  # counts and numbers of the seed itself
    everything = sandbox.get("/incidents", params={"date_range": "all", "total": "true", "limit": 1}).json()
    assert everything["total"] == 200
    old = sandbox.get("/incidents", params={"since": "2001-01-01T00:00:00Z", "until": "2001-02-01T00:00:00Z"})
    assert old.json()["incidents"] == []
    too_wide = sandbox.get("/incidents", params={"since": "2001-01-01T00:00:00Z", "until": "2002-01-01T00:00:00Z"})
    assert too_wide.status_code == 400


def test_it_pages_without_overlap(sandbox):
    first = sandbox.get("/incidents", params={"limit": 25, "offset": 0}).json()["incidents"]
    second = sandbox.get("/incidents", params={"limit": 25, "offset": 25}).json()["incidents"]
    assert not {i["id"] for i in first} & {i["id"] for i in second}
    assert first[-1]["incident_number"] < second[0]["incident_number"]


# --- filters --------------------------------------------------------------------------------------


def test_it_filters_incidents_by_status_urgency_service_team_user_and_key(sandbox):
    assert {i["status"] for i in incidents(sandbox, **{"statuses[]": "acknowledged"})} == {"acknowledged"}
    assert {i["urgency"] for i in incidents(sandbox, **{"urgencies[]": "low"})} == {"low"}
    service_id = sandbox.services["Checkout"]
    assert {i["service"]["id"] for i in incidents(sandbox, **{"service_ids[]": service_id})} == {service_id}
    team = next(t for t in sandbox.get("/teams").json()["teams"] if t["name"] == "Mobile")
    by_team = incidents(sandbox, **{"team_ids[]": team["id"]})
    assert by_team
    assert {t["id"] for i in by_team for t in i["teams"]} == {team["id"]}
    user_id = sandbox.user_id("responder@example.com")
    mine = incidents(sandbox, **{"user_ids[]": user_id, "statuses[]": ["triggered", "acknowledged"]})
    assert mine
    assert all(user_id in {a["assignee"]["id"] for a in i["assignments"]} for i in mine)
    key = mine[0]["incident_key"]
    assert [i["id"] for i in incidents(sandbox, incident_key=key)] == [mine[0]["id"]]


def test_it_sorts_and_renders_times_in_the_requested_time_zone(fresh_sandbox):
    sandbox = fresh_sandbox  # counts and numbers of the seed itself
    newest = incidents(sandbox, sort_by="incident_number:desc", time_zone="Asia/Tokyo")
    assert newest[0]["incident_number"] == 200
    assert newest[0]["created_at"].endswith("+09:00")


def test_it_filters_log_entries_by_time_window(sandbox):
    entries = sandbox.get("/log_entries", params={"limit": 1}).json()["log_entries"]
    newest = entries[0]["created_at"]
    later = sandbox.get("/log_entries", params={"since": newest, "until": "2100-01-01T00:00:00Z"}).json()
    assert all(e["created_at"] >= newest for e in later["log_entries"])


# --- From, errors ---------------------------------------------------------------------------------


def test_writes_with_an_account_key_need_a_from_header(sandbox):
    incident_id = incidents(sandbox, **{"statuses[]": "triggered"})[0]["id"]
    missing = put_incident(sandbox, incident_id, headers={}, status="acknowledged")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == 2016
    assert '"From" header' in missing.json()["error"]["message"]
    unknown = put_incident(sandbox, incident_id, headers={"From": "nobody@example.com"}, status="acknowledged")
    assert unknown.status_code == 400
    assert sandbox.get(f"/incidents/{incident_id}").json()["incident"]["status"] == "triggered"


def test_it_answers_malformed_json_unknown_paths_and_methods_like_pagerduty(sandbox):
    bad = sandbox.post("/incidents", headers={**ADMIN, "Content-Type": "application/json"}, content=b"{nope")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == 2001
    missing = sandbox.get("/no/such/thing")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Not Found"
    assert sandbox.delete("/incidents").status_code == 405


def test_users_me_needs_a_user_token(sandbox):
    assert sandbox.get("/users/me").status_code == 400
    me = sandbox.get("/users/me", token=user_key(sandbox, "responder@example.com"))
    assert me.status_code == 200
    assert me.json()["user"]["email"] == "responder@example.com"


# --- incidents ------------------------------------------------------------------------------------


def test_it_refuses_a_duplicate_open_incident_key(fresh_sandbox):
    sandbox = fresh_sandbox
    body = {
        "incident": {
            "type": "incident",
            "title": "Dup",
            "incident_key": "dup-1",
            "service": {"id": sandbox.services["Checkout"], "type": "service_reference"},
        }
    }
    assert sandbox.post("/incidents", headers=ADMIN, json=body).status_code == 201
    again = sandbox.post("/incidents", headers=ADMIN, json=body)
    assert again.status_code == 400
    assert "dedup key" in again.json()["error"]["errors"][0]


def test_creating_an_incident_assigns_the_policy_and_logs_the_trigger(fresh_sandbox):
    sandbox = fresh_sandbox
    body = {
        "incident": {
            "type": "incident",
            "title": "New one",
            "service": {"id": sandbox.services["API Gateway"], "type": "service_reference"},
        }
    }
    created = sandbox.post("/incidents", headers=ADMIN, json=body).json()["incident"]
    assert created["status"] == "triggered"
    assert [a["assignee"]["id"] for a in created["assignments"]] == [sandbox.user_id("responder@example.com")]
    types = [e["type"] for e in sandbox.get(f"/incidents/{created['id']}/log_entries").json()["log_entries"]]
    assert "trigger_log_entry" in types
    assert created["first_trigger_log_entry"]["id"]


def test_acknowledge_resolve_and_reassign_write_log_entries_with_the_agent(fresh_sandbox):
    sandbox = fresh_sandbox
    incident_id = incidents(sandbox, **{"statuses[]": "triggered"})[0]["id"]
    assert put_incident(sandbox, incident_id, status="acknowledged").json()["incident"]["status"] == "acknowledged"
    target = sandbox.user_id("oncall@example.com")
    reassigned = put_incident(
        sandbox, incident_id, assignments=[{"assignee": {"id": target, "type": "user_reference"}}]
    )
    assert [a["assignee"]["id"] for a in reassigned.json()["incident"]["assignments"]] == [target]
    resolved = put_incident(sandbox, incident_id, status="resolved", resolution="fixed")
    assert resolved.json()["incident"]["status"] == "resolved"
    entries = sandbox.get(f"/incidents/{incident_id}/log_entries", params={"limit": 100}).json()["log_entries"]
    by_type = {e["type"]: e for e in entries}
    assert {"acknowledge_log_entry", "assign_log_entry", "resolve_log_entry"} <= by_type.keys()
    assert by_type["resolve_log_entry"]["agent"]["id"] == sandbox.user_id("admin@example.com")
    assert by_type["resolve_log_entry"]["note"] == "fixed"


def test_it_escalates_to_the_next_level(fresh_sandbox):
    sandbox = fresh_sandbox
    incident = incidents(sandbox, **{"statuses[]": "triggered", "service_ids[]": sandbox.services["API Gateway"]})[0]
    escalated = put_incident(sandbox, incident["id"], escalation_level=2).json()["incident"]
    assert escalated["escalation_level"] == 2
    assert [a["assignee"]["id"] for a in escalated["assignments"]] == [sandbox.user_id("oncall@example.com")]


def test_bulk_manage_updates_each_incident_and_refuses_more_than_250(fresh_sandbox):
    sandbox = fresh_sandbox
    open_ids = [i["id"] for i in incidents(sandbox, **{"statuses[]": "triggered"})][:3]
    items = [{"id": pk, "type": "incident_reference", "status": "acknowledged"} for pk in open_ids]
    response = sandbox.put("/incidents", headers=ADMIN, json={"incidents": items})
    assert response.status_code == 200
    assert [(i["id"], i["status"]) for i in response.json()["incidents"]] == [(pk, "acknowledged") for pk in open_ids]
    too_many = [{"id": open_ids[0], "type": "incident_reference", "status": "resolved"}] * 251
    refused = sandbox.put("/incidents", headers=ADMIN, json={"incidents": too_many})
    assert refused.status_code == 413
    assert sandbox.get(f"/incidents/{open_ids[0]}").json()["incident"]["status"] == "acknowledged"


def test_snooze_needs_an_acknowledged_incident(fresh_sandbox):
    sandbox = fresh_sandbox
    incident_id = incidents(sandbox, **{"statuses[]": "triggered"})[0]["id"]
    refused = sandbox.post(f"/incidents/{incident_id}/snooze", headers=ADMIN, json={"duration": 3600})
    assert refused.status_code == 400
    put_incident(sandbox, incident_id, status="acknowledged")
    snoozed = sandbox.post(f"/incidents/{incident_id}/snooze", headers=ADMIN, json={"duration": 3600})
    assert snoozed.status_code == 201
    # The snooze's end is the pending "unacknowledge" (other pending actions, such as the service's auto-resolve,
    # may come first).
    pending = {action["type"] for action in snoozed.json()["incident"]["pending_actions"]}
    assert "unacknowledge" in pending


def test_merge_moves_alerts_and_resolves_the_sources(fresh_sandbox):
    sandbox = fresh_sandbox
    target, source = incidents(sandbox, **{"statuses[]": "triggered"})[:2]
    source_alerts = sandbox.get(f"/incidents/{source['id']}/alerts").json()["alerts"]
    merged = sandbox.put(
        f"/incidents/{target['id']}/merge",
        headers=ADMIN,
        json={"source_incidents": [{"id": source["id"], "type": "incident_reference"}]},
    )
    assert merged.status_code == 200
    # The spec answers with a reference to the target, not the whole incident.
    assert merged.json()["incident"] == {
        "id": target["id"],
        "type": "incident_reference",
        "summary": target["summary"],
        "self": target["self"],
        "html_url": target["html_url"],
    }
    after = sandbox.get(f"/incidents/{target['id']}").json()["incident"]
    assert after["alert_counts"]["all"] == target["alert_counts"]["all"] + len(source_alerts)
    assert sandbox.get(f"/incidents/{source['id']}").json()["incident"]["status"] == "resolved"
    moved = {a["id"] for a in sandbox.get(f"/incidents/{target['id']}/alerts").json()["alerts"]}
    assert {a["id"] for a in source_alerts} <= moved


def test_moving_an_alert_splits_it_into_the_other_incident(fresh_sandbox):
    sandbox = fresh_sandbox
    multi = next(i for i in incidents(sandbox, **{"statuses[]": "triggered"}) if i["alert_counts"]["all"] > 1)
    other = next(i for i in incidents(sandbox, **{"statuses[]": "acknowledged"}))
    alert = sandbox.get(f"/incidents/{multi['id']}/alerts").json()["alerts"][-1]
    response = sandbox.put(
        f"/incidents/{multi['id']}/alerts",
        headers=ADMIN,
        json={
            "alerts": [
                {"id": alert["id"], "type": "alert", "incident": {"id": other["id"], "type": "incident_reference"}}
            ]
        },
    )
    assert response.status_code == 200
    assert response.json()["alerts"][0]["incident"]["id"] == other["id"]
    after = sandbox.get(f"/incidents/{multi['id']}").json()["incident"]
    assert after["alert_counts"]["all"] == multi["alert_counts"]["all"] - 1
    assert after["status"] == "triggered"


def test_resolving_the_last_alert_resolves_the_incident(fresh_sandbox):
    sandbox = fresh_sandbox
    incident = next(i for i in incidents(sandbox, **{"statuses[]": "triggered"}) if i["alert_counts"]["all"] == 1)
    alert = sandbox.get(f"/incidents/{incident['id']}/alerts").json()["alerts"][0]
    response = sandbox.put(
        f"/incidents/{incident['id']}/alerts/{alert['id']}",
        headers=ADMIN,
        json={"alert": {"type": "alert", "status": "resolved"}},
    )
    assert response.json()["alert"]["status"] == "resolved"
    assert sandbox.get(f"/incidents/{incident['id']}").json()["incident"]["status"] == "resolved"


def test_notes_need_from_and_show_up_in_the_list(fresh_sandbox):
    sandbox = fresh_sandbox
    incident_id = incidents(sandbox)[0]["id"]
    assert sandbox.post(f"/incidents/{incident_id}/notes", json={"note": {"content": "x"}}).status_code == 400
    created = sandbox.post(f"/incidents/{incident_id}/notes", headers=ADMIN, json={"note": {"content": "Hello"}})
    assert created.status_code == 200
    notes = sandbox.get(f"/incidents/{incident_id}/notes").json()["notes"]
    assert notes[-1]["content"] == "Hello"
    assert notes[-1]["user"]["id"] == sandbox.user_id("admin@example.com")


# --- users, notifications, templates --------------------------------------------------------------


def test_a_user_with_open_incidents_cannot_be_deleted(fresh_sandbox):
    sandbox = fresh_sandbox
    user_id = sandbox.user_id("responder@example.com")
    response = sandbox.delete(f"/users/{user_id}", headers=ADMIN)
    assert response.status_code == 400
    assert "open incidents" in response.json()["error"]["errors"][0]
    assert sandbox.get(f"/users/{user_id}").status_code == 200


def test_notifications_need_since_and_until_within_three_months(sandbox):
    assert sandbox.get("/notifications").status_code == 400
    assert sandbox.get("/notifications", params={"since": "2026-01-01T00:00:00Z"}).status_code == 400
    too_long = sandbox.get("/notifications", params={"since": "2026-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"})
    assert too_long.status_code == 400
    window = {"since": "2000-01-01T00:00:00Z", "until": "2000-02-01T00:00:00Z"}
    assert sandbox.get("/notifications", params=window).json()["notifications"] == []


def test_template_render_substitutes_incident_fields_and_warns_about_unknown_ones(fresh_sandbox):
    sandbox = fresh_sandbox
    created = sandbox.post(
        "/templates",
        headers=ADMIN,
        json={
            "template": {
                "name": "T",
                "template_type": "status_update",
                "templated_fields": {"message": "#{{incident.incident_number}} {{incident.title}} {{incident.nope}}"},
            }
        },
    )
    template_id = created.json()["template"]["id"]
    incident = incidents(sandbox)[0]
    rendered = sandbox.post(f"/templates/{template_id}/render", json={"incident_id": incident["id"]}).json()
    assert rendered["templated_fields"]["message"].startswith(f"#{incident['incident_number']} {incident['title']}")
    assert rendered["warnings"] == [{"message": ["{{incident.nope}} does not exist."]}]


def test_the_seed_is_deterministic_and_matches_the_readme(sandbox):
    assert sandbox.user_id("responder@example.com") == "PPDQXRY"
    assert sandbox.user_id("observer@example.com") == "PLDSUN7"
    assert sandbox.services["Checkout"] == "PJXCPDX"
    roles = {u["email"]: u["role"] for u in sandbox.get("/users").json()["users"]}
    assert roles["owner@example.com"] == "owner"
    assert roles["limited@example.com"] == "limited_user"
    assert roles["observer@example.com"] == "observer"


def test_a_responder_request_names_its_requester_in_the_body(fresh_sandbox):
    sandbox = fresh_sandbox
    incident_id = incidents(sandbox, **{"statuses[]": "triggered"})[0]["id"]
    target = sandbox.user_id("oncall@example.com")
    response = sandbox.post(
        f"/incidents/{incident_id}/responder_requests",
        json={
            "requester_id": sandbox.user_id("admin@example.com"),
            "message": "Join the bridge",
            "responder_request_targets": [{"responder_request_target": {"id": target, "type": "user_reference"}}],
        },
    )
    assert response.status_code == 200, response.text
    incident = sandbox.get(f"/incidents/{incident_id}").json()["incident"]
    assert [r["user"]["id"] for r in incident["incidents_responders"]] == [target]


def test_it_filters_services_users_and_policies_by_query_and_team(sandbox):
    payments = next(t for t in sandbox.get("/teams").json()["teams"] if t["name"] == "Payments")
    services = sandbox.get("/services", params={"team_ids[]": payments["id"]}).json()["services"]
    assert sorted(s["name"] for s in services) == ["Billing Worker", "Checkout"]
    assert [s["name"] for s in sandbox.get("/services", params={"query": "gate"}).json()["services"]] == ["API Gateway"]
    members = sandbox.get("/users", params={"team_ids[]": payments["id"]}).json()["users"]
    assert "responder2@example.com" in {u["email"] for u in members}
    assert "owner@example.com" not in {u["email"] for u in members}
    found = sandbox.get("/users", params={"query": "observer"}).json()["users"]
    assert [u["email"] for u in found] == ["observer@example.com"]
    policies = sandbox.get("/escalation_policies", params={"team_ids[]": payments["id"]}).json()
    assert [p["name"] for p in policies["escalation_policies"]] == ["Payments On-Call"]


def test_include_expands_references_into_objects(sandbox):
    users = sandbox.get("/users", params={"include[]": ["contact_methods", "teams"]}).json()["users"]
    method = users[0]["contact_methods"][0]
    assert "address" in method
    assert not method["type"].endswith("_reference")
    services = sandbox.get("/services", params={"include[]": "integrations"}).json()["services"]
    assert services[0]["integrations"][0]["integration_key"]


def test_overview_log_entries_leave_out_notifications_and_assignments(sandbox):
    incident = incidents(sandbox, **{"statuses[]": "triggered"})[0]
    path = f"/incidents/{incident['id']}/log_entries"
    everything = {e["type"] for e in sandbox.get(path).json()["log_entries"]}
    overview = {e["type"] for e in sandbox.get(path, params={"is_overview": "true"}).json()["log_entries"]}
    assert {"notify_log_entry", "assign_log_entry"} <= everything
    assert "notify_log_entry" not in overview
    assert "trigger_log_entry" in overview


def test_change_events_filter_by_integration_and_service(sandbox):
    events = sandbox.get("/change_events", params={"limit": 100}).json()["change_events"]
    integration_id = events[0]["integration"]["id"]
    same = sandbox.get("/change_events", params={"integration_ids[]": integration_id, "limit": 100}).json()
    assert {e["integration"]["id"] for e in same["change_events"]} == {integration_id}
    service_id = events[0]["services"][0]["id"]
    per_service = sandbox.get(f"/services/{service_id}/change_events", params={"limit": 100}).json()
    assert {e["services"][0]["id"] for e in per_service["change_events"]} == {service_id}


def test_alerts_filter_by_status(sandbox):
    incident = next(i for i in incidents(sandbox, **{"statuses[]": "resolved"}))
    path = f"/incidents/{incident['id']}/alerts"
    assert sandbox.get(path, params={"statuses[]": "triggered"}).json()["alerts"] == []
    assert sandbox.get(path, params={"statuses[]": "resolved"}).json()["alerts"]


def test_people_may_edit_their_own_profile_but_not_others_or_their_role(fresh_sandbox):
    sandbox = fresh_sandbox
    key = user_key(sandbox, "responder@example.com")
    me = sandbox.user_id("responder@example.com")
    own = sandbox.put(f"/users/{me}", token=key, json={"user": {"type": "user", "time_zone": "Asia/Tokyo"}})
    assert own.status_code == 200, own.text
    assert own.json()["user"]["time_zone"] == "Asia/Tokyo"
    promote = sandbox.put(f"/users/{me}", token=key, json={"user": {"type": "user", "role": "admin"}})
    assert promote.status_code == 403
    other = sandbox.user_id("oncall@example.com")
    assert sandbox.put(f"/users/{other}", token=key, json={"user": {"job_title": "x"}}).status_code == 403


def test_concurrent_writes_and_reads_all_succeed(fresh_sandbox):
    from concurrent.futures import ThreadPoolExecutor

    sandbox = fresh_sandbox
    open_ids = [i["id"] for i in incidents(sandbox, **{"statuses[]": "triggered"})][:12]
    assert len(open_ids) == 12

    def work(n):
        if n % 2:
            return sandbox.get("/incidents", params={"limit": 100}).status_code
        return put_incident(sandbox, open_ids[n // 2], status="acknowledged").status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(work, range(24)))
    assert codes == [200] * 24
    statuses = {sandbox.get(f"/incidents/{pk}").json()["incident"]["status"] for pk in open_ids}
    assert statuses == {"acknowledged"}


# --- team memberships (PUT/DELETE /teams/{id}/users/{user_id}) ------------------------------------------------------


def _team_ids_of(sandbox, email):
    user = sandbox.get(f"/users/{sandbox.user_id(email)}").json()["user"]
    return {team["id"] for team in user["teams"]}


def test_an_admin_adds_and_removes_a_team_member(fresh_sandbox):
    email = "responder@example.com"
    path = f"/teams/PTSECUR/users/{fresh_sandbox.user_id(email)}"
    assert "PTSECUR" not in _team_ids_of(fresh_sandbox, email)
    assert fresh_sandbox.put(path, headers=ADMIN, json={"role": "responder"}).status_code == 204
    assert "PTSECUR" in _team_ids_of(fresh_sandbox, email)
    assert fresh_sandbox.delete(path, headers=ADMIN).status_code == 204
    assert "PTSECUR" not in _team_ids_of(fresh_sandbox, email)


def test_only_an_admin_changes_team_memberships(fresh_sandbox):
    path = f"/teams/PTSECUR/users/{fresh_sandbox.user_id('observer@example.com')}"
    key = user_key(fresh_sandbox, "responder@example.com")
    response = fresh_sandbox.put(path, token=key, json={"role": "responder"})
    assert response.status_code == 403, response.text
    assert fresh_sandbox.delete("/teams/PTSECUR/users/PNOSUCH", headers=ADMIN).status_code == 404
