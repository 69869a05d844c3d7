"""Each PagerDuty role sees what PagerDuty would show it (issue 11, finding 6), everywhere the portal shows it.

The world: public teams Platform and Payments, a private team Security (`default_role: "none"`), one incident per
kind of association (a service's team, a policy's team only, no team at all), and one person per base role.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import responses
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import PagerDutyUser, Profile, Team
from incidents.models import Alert, ChangeEvent, Incident
from services.models import EscalationPolicy, Service

pytestmark = pytest.mark.django_db

API = "https://api.pagerduty.test"

TITLES = {
    "platform": "Platform gateway down",
    "payments": "Payments checkout broken",
    "private": "Vault secret rotation failed",
    "private_by_policy": "Ledger replica lagging",
    "teamless": "Legacy cron missed",
}
PRIVATE = {"private", "private_by_policy"}
EVERY = set(TITLES)


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # The test client speaks plain HTTP; HTTPS redirects are the security middleware's business.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def world(db):
    now = timezone.now()
    platform = Team.objects.create(pd_id="PTPLAT", name="Platform", default_role="manager")
    payments = Team.objects.create(pd_id="PTPAY", name="Payments", default_role="manager")
    security = Team.objects.create(pd_id="PTSEC", name="Security", default_role="none")
    ledger_policy = EscalationPolicy.objects.create(pd_id="PESEC", name="Security On-Call")
    ledger_policy.teams.add(security)
    services = {
        "platform": Service.objects.create(pd_id="PSPLAT", name="API Gateway"),
        "payments": Service.objects.create(pd_id="PSPAY", name="Checkout"),
        "private": Service.objects.create(pd_id="PSVAULT", name="Secrets Vault"),
        # On the private team only through its escalation policy: PagerDuty puts it on that team too.
        "private_by_policy": Service.objects.create(pd_id="PSLEDG", name="Ledger", escalation_policy=ledger_policy),
        "teamless": Service.objects.create(pd_id="PSLEG", name="Legacy Batch"),
    }
    services["platform"].teams.add(platform)
    services["payments"].teams.add(payments)
    services["private"].teams.add(security)
    incidents = {}
    for n, (key, title) in enumerate(TITLES.items(), start=1):
        incident = Incident.objects.create(
            pd_id=f"PQ{key.upper()[:6]}{n}",
            number=100 + n,
            title=title,
            status="triggered",
            service=services[key],
            created_at=now - dt.timedelta(minutes=n),
            search_text=f"{title.lower()} #{100 + n}",
        )
        Alert.objects.create(
            pd_id=f"PA{n}", incident=incident, status="triggered", summary=f"alert of {title}", created_at=now
        )
        incidents[key] = incident
    change = ChangeEvent.objects.create(pd_id="PCVAULT", summary="Vault deploy 42", timestamp=now)
    change.services.add(services["private"])
    return {"teams": {"platform": platform, "payments": payments, "security": security}, "incidents": incidents}


def person(email: str, role: str, *teams: Team):
    """A portal user linked to a mirrored PagerDuty user with this base role, on these teams."""
    pd_user = PagerDutyUser.objects.create(pd_id=f"PU{email.split('@')[0][:10].upper()}", name=email, email=email)
    pd_user.role = role
    pd_user.save()
    pd_user.teams.set(teams)
    user = get_user_model().objects.create_user(username=email.split("@")[0], email=email)
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.pd_user, profile.role = pd_user, role
    profile.save()
    return get_user_model().objects.get(pk=user.pk)


def titles_in(html: str) -> set[str]:
    return {key for key, title in TITLES.items() if title in html}


# -- a restricted person must not see another team's incident anywhere ------------------------------------------


@pytest.fixture
def restricted(world):
    return person("riley@example.com", "restricted_access", world["teams"]["payments"])


def test_restricted_access_lists_only_its_teams_incidents(client_as, restricted):
    html = client_as(restricted).get("/").content.decode()
    assert titles_in(html) == {"payments"}


def test_restricted_access_gets_404_for_another_teams_incident_page(client_as, restricted, world):
    client = client_as(restricted)
    for key in EVERY - {"payments"}:
        assert client.get(f"/incidents/{world['incidents'][key].pd_id}/").status_code == 404, key
    assert client.get(f"/incidents/{world['incidents']['payments'].pd_id}/").status_code == 200


def test_restricted_access_gets_404_for_another_teams_alerts_csv(client_as, restricted, world):
    client = client_as(restricted)
    response = client.get(f"/incidents/{world['incidents']['platform'].pd_id}/alerts.csv")
    assert response.status_code == 404
    assert TITLES["platform"] not in response.content.decode()
    assert client.get(f"/incidents/{world['incidents']['payments'].pd_id}/alerts.csv").status_code == 200


@pytest.mark.parametrize("query", ["gateway", "#101", "platform", "vault"])
def test_restricted_access_does_not_find_another_teams_incident_by_search(client_as, restricted, query):
    html = client_as(restricted).get("/", {"q": query}).content.decode()
    assert titles_in(html) == set()


def test_restricted_access_live_refetches_hide_another_teams_incident(client_as, restricted, world):
    client = client_as(restricted)
    # The partials live.js re-fetches on an invalidation: the list's table, and each incident-page section.
    table = client.get("/", {"partial": "incident-table"}, HTTP_HX_REQUEST="true").content.decode()
    assert titles_in(table) == {"payments"}
    pd_id = world["incidents"]["platform"].pd_id
    for name in ("incident-header", "incident-alerts", "incident-notes", "incident-timeline", "incident-changes"):
        response = client.get(f"/incidents/{pd_id}/", {"partial": name}, HTTP_HX_REQUEST="true")
        assert response.status_code == 404, name


def test_restricted_access_pickers_offer_only_its_teams_services_and_people(client_as, restricted, world):
    html = client_as(restricted).get("/").content.decode()
    assert "Checkout" in html
    for name in ("API Gateway", "Secrets Vault", "Ledger", "Legacy Batch", "Security On-Call"):
        assert name not in html, name


def test_restricted_access_cannot_open_the_services_and_users_pages(client_as, restricted, world):
    client = client_as(restricted)
    for url in ("/services/", f"/services/{world['incidents']['private'].service.pd_id}/", "/users/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Secrets Vault" not in response.content.decode()


def test_restricted_access_sees_only_its_teams_in_the_service_and_people_selectors(restricted, world):
    from console.selectors import user_list
    from services.selectors import service_list

    colleague = person("ravi@example.com", "user", world["teams"]["payments"])
    stranger = person("rita@example.com", "user", world["teams"]["platform"])
    assert [s.name for s in service_list(viewer=restricted)] == ["Checkout"]
    people = set(user_list(viewer=restricted).values_list("pd_id", flat=True))
    assert restricted.profile.pd_user.pd_id in people and colleague.profile.pd_user.pd_id in people
    assert stranger.profile.pd_user.pd_id not in people


def test_select_all_matching_leaves_out_what_the_person_cannot_see(world, restricted):
    from incidents.selectors import incident_ids_matching

    assert incident_ids_matching(filters={}, user=restricted) == [world["incidents"]["payments"].pd_id]


# -- responders: the same scope for what they may act on ---------------------------------------------------------


@pytest.fixture
def limited(world):
    return person("lena@example.com", "limited_user", world["teams"]["platform"])


def test_a_limited_user_sees_public_and_teamless_incidents_but_not_a_private_teams(client_as, limited):
    html = client_as(limited).get("/").content.decode()
    assert titles_in(html) == EVERY - PRIVATE


def test_bulk_select_all_sends_pagerduty_only_the_incidents_the_person_can_see(client_as, limited, world, api_key_mode):
    sent = []

    def answer(request):
        items = json.loads(request.body)["incidents"]
        sent.extend(item["id"] for item in items)
        incidents = [{"id": item["id"], "type": "incident", "status": "acknowledged"} for item in items]
        return 200, {}, json.dumps({"incidents": incidents})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.PUT, f"{API}/incidents", callback=answer)
        rsps.add(responses.GET, f"{API}/log_entries", json={"log_entries": [], "more": False})
        response = client_as(limited).post(
            "/incidents/bulk/",
            {"action": "acknowledge", "select_all": "1", "query": "status=triggered", "confirmed": "1"},
        )
    assert response.status_code == 302
    assert set(sent) == {world["incidents"][k].pd_id for k in EVERY - PRIVATE}


def test_a_bulk_action_on_hand_picked_hidden_ids_sends_them_nowhere(client_as, limited, world, api_key_mode):
    hidden = world["incidents"]["private"].pd_id
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        put = rsps.add(responses.PUT, f"{API}/incidents", json={"incidents": []})
        response = client_as(limited).post(
            "/incidents/bulk/", {"action": "acknowledge", "ids": [hidden]}, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    assert put.call_count == 0
    assert TITLES["private"] not in response.content.decode()


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "note"])
def test_an_action_on_an_incident_out_of_scope_is_404_and_reaches_nobody(
    client_as, limited, world, action, api_key_mode
):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        response = client_as(limited).post(
            f"/incidents/{world['incidents']['private'].pd_id}/{action}/", {"content": "x", "resolution": ""}
        )
        assert len(rsps.calls) == 0
    assert response.status_code == 404


def test_merging_an_incident_out_of_scope_is_refused_before_pagerduty(limited, world, api_key_mode):
    from incidents import actions

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        with pytest.raises(actions.ActionRefused):
            actions.incident_merge(
                actor=limited, incident=world["incidents"]["platform"], sources=[world["incidents"]["private"].pd_id]
            )
        assert len(rsps.calls) == 0


def test_moving_alerts_into_an_incident_out_of_scope_is_refused(client_as, limited, world, api_key_mode):
    source = world["incidents"]["platform"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        response = client_as(limited).post(
            f"/incidents/{source.pd_id}/alerts/",
            {"op": "move", "alerts": ["PA1"], "target": str(world["incidents"]["private"].number)},
        )
        assert len(rsps.calls) == 0
    assert response.status_code in (200, 302)
    assert not Alert.objects.filter(incident=world["incidents"]["private"], pd_id="PA1").exists()


def test_a_change_event_on_a_private_teams_service_is_hidden(client_as, limited, world, api_key_mode):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, f"{API}/change_events/PCVAULT", status=500, json={"error": {"message": "down"}})
        response = client_as(limited).get("/change-events/PCVAULT/")
    assert response.status_code == 404
    assert "Vault deploy 42" not in response.content.decode()


def test_notifications_of_people_out_of_scope_are_left_out(world, restricted, api_key_mode):
    from incidents import actions

    colleague = person("ravi@example.com", "user", world["teams"]["payments"])
    stranger = person("rita@example.com", "user", world["teams"]["platform"])
    items = [
        {"id": f"PN{n}", "type": "email_notification", "started_at": "2026-11-20T10:00:00Z", "user": {"id": pd_id}}
        for n, pd_id in enumerate([colleague.profile.pd_user.pd_id, stranger.profile.pd_user.pd_id])
    ]
    filters = {"since": timezone.now() - dt.timedelta(days=1), "until": timezone.now()}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, f"{API}/notifications", json={"notifications": items, "more": False})
        shown = actions.notifications_fetch(actor=restricted, filters=filters)
    assert [n["id"] for n in shown] == ["PN0"]


# -- the other scoped base roles ------------------------------------------------------------------------------------


def test_a_limited_stakeholder_sees_no_incidents_at_all(client_as, world):
    # PagerDuty: the Limited Stakeholder (read_only_limited_user) sees only its own profile and the status page.
    stakeholder = person("lee@example.com", "read_only_limited_user", world["teams"]["payments"])
    client = client_as(stakeholder)
    assert titles_in(client.get("/").content.decode()) == set()
    assert client.get(f"/incidents/{world['incidents']['payments'].pd_id}/").status_code == 404


@pytest.mark.parametrize(("teams", "sees"), [(("platform",), EVERY - PRIVATE), (("security",), EVERY)])
def test_an_observer_sees_a_private_teams_incidents_only_as_a_member(client_as, world, teams, sees):
    observer = person("oscar@example.com", "observer", *(world["teams"][t] for t in teams))
    client = client_as(observer)
    assert titles_in(client.get("/").content.decode()) == sees
    private = client.get(f"/incidents/{world['incidents']['private'].pd_id}/")
    assert private.status_code == (200 if "private" in sees else 404)


def test_a_member_of_the_private_team_sees_its_incidents(client_as, world):
    member = person("omar@example.com", "user", world["teams"]["security"])
    client = client_as(member)
    assert titles_in(client.get("/").content.decode()) == EVERY
    assert client.get(f"/incidents/{world['incidents']['private_by_policy'].pd_id}/").status_code == 200


@pytest.mark.parametrize("role", ["admin", "owner"])
def test_the_owner_and_global_admins_see_everything(client_as, world, role):
    boss = person(f"{role}@example.com", role)
    client = client_as(boss)
    assert titles_in(client.get("/").content.decode()) == EVERY
    assert client.get(f"/incidents/{world['incidents']['private'].pd_id}/").status_code == 200
    services = client.get("/services/?partial=service-list").content.decode()
    assert "Secrets Vault" in services and "Ledger" in services


def test_a_team_known_only_by_reference_stays_private_until_pagerduty_says_otherwise(client_as, world):
    from incidents import mirror

    mirror.upsert_incident(
        {
            "id": "PQNEW",
            "type": "incident",
            "incident_number": 500,
            "title": "New team's first incident",
            "status": "triggered",
            "created_at": "2026-11-20T10:00:00Z",
            "teams": [{"id": "PTNEW", "type": "team_reference", "summary": "New"}],
        }
    )
    responder = person("rita@example.com", "user", world["teams"]["platform"])
    client = client_as(responder)
    assert client.get("/incidents/PQNEW/").status_code == 404
    mirror.upsert_team({"id": "PTNEW", "type": "team", "name": "New", "default_role": "manager"})
    client = client_as(get_user_model().objects.get(pk=responder.pk))  # a new request computes the scope again
    assert client.get("/incidents/PQNEW/").status_code == 200


# -- live invalidations carry ids, never titles ----------------------------------------------------------------


def test_live_invalidations_carry_ids_never_titles(client, monkeypatch, settings, django_capture_on_commit_callbacks):
    from incidents import webhooks
    from pdportal import live
    from pdportal.pagerduty.webhooks import sign
    from tests.live.conftest import SECRET, body_of, incident_data, webhook

    settings.PAGERDUTY_WEBHOOK_SECRETS = [SECRET]
    webhooks.forget_secrets()
    published = []
    monkeypatch.setattr(live, "publish", lambda **message: published.append(message) or "1-0")
    monkeypatch.setattr(webhooks, "_enqueue_enrichment", lambda pd_id: True)
    secret_title = "Vault root key leaked to pastebin"
    body = body_of(
        webhook(
            "incident.triggered",
            incident_data(title=secret_title),
            event_id="01SCOPE",
            occurred_at="2026-11-20T10:00:00.100Z",
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/hooks/pagerduty/",
            data=body,
            content_type="application/json",
            headers={"X-PagerDuty-Signature": sign(body, SECRET)},
        )
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.drain()  # the consumer applies stored events and publishes (a no-op where the receiver did)
    webhooks.forget_secrets()
    assert response.status_code == 202
    assert published, "the webhook published no invalidation"
    for message in published:
        text = json.dumps(message, default=str)
        assert secret_title not in text and "Vault" not in text
        assert set(message) <= {"topic", "ids", "event", "assignees", "related"}


def test_the_refetch_after_a_webhook_reads_a_team_known_only_by_reference(world, settings, api_key_mode):
    from incidents import mirror, refetch
    from pdportal.pagerduty import PagerDutyClient, RequestBudget

    mirror.upsert_team({"id": "PTNEW", "type": "team_reference", "summary": "New"})
    mirror.upsert_team({"id": "PTGONE", "type": "team_reference", "summary": "Gone"})
    assert Team.objects.get(pd_id="PTNEW").is_private
    client = PagerDutyClient(token="k", api_url=API, budget=RequestBudget(per_minute=1_000_000))
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            f"{API}/teams/PTNEW",
            json={"team": {"id": "PTNEW", "type": "team", "name": "New", "default_role": "manager"}},
        )
        rsps.add(responses.GET, f"{API}/teams/PTGONE", status=404, json={"error": {"message": "Not Found"}})
        assert refetch.read_unknown_teams(client=client) == 2
    assert Team.objects.get(pd_id="PTNEW").default_role == "manager"
    assert Team.objects.get(pd_id="PTGONE").default_role == "none"
    with responses.RequestsMock():  # nothing left to ask about
        assert refetch.read_unknown_teams(client=client) == 0


# -- the sandbox seed: a private team and the scoped roles, through a real sync ----------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_the_sandbox_seed_shows_its_private_team_only_to_members(fresh_sandbox, api_key_mode):
    from incidents import sync
    from pdportal.pagerduty import PagerDutyClient, RequestBudget
    from services.selectors import services_visible_to

    client = PagerDutyClient(
        token=fresh_sandbox.api_token, api_url=fresh_sandbox.url, budget=RequestBudget(per_minute=1_000_000)
    )
    sync.sync_all(client=client, steps=("teams", "users", "escalation_policies", "services"))
    assert Team.objects.get(name="Security").is_private
    assert not Team.objects.get(name="Platform").is_private

    def linked(email: str):
        user = get_user_model().objects.create_user(username=email.split("@")[0], email=email)
        pd_user = PagerDutyUser.objects.get(email=email)
        Profile.objects.update_or_create(user=user, defaults={"pd_user": pd_user, "role": pd_user.role})
        return get_user_model().objects.get(pk=user.pk)

    def services_of(email: str) -> set[str]:
        return set(services_visible_to(viewer=linked(email)).values_list("name", flat=True))

    everything = set(Service.objects.values_list("name", flat=True))
    assert "Secrets Vault" in everything
    assert services_of("admin@example.com") == everything
    assert services_of("oncall@example.com") == everything  # a member of the private team
    assert services_of("responder@example.com") == everything - {"Secrets Vault"}
    assert services_of("observer@example.com") == everything - {"Secrets Vault"}
    assert services_of("restricted@example.com") == {"iOS App", "Android App", "Secrets Vault"}
    assert services_of("stakeholder@example.com") == set()


def test_an_incident_assigned_to_the_person_is_visible_to_them_whatever_its_team(client_as, restricted, world):
    # PagerDuty pages the assignee about it: they must be able to open it and respond.
    incident = world["incidents"]["private"]
    incident.assignees.add(restricted.profile.pd_user)
    client = client_as(restricted)
    assert titles_in(client.get("/").content.decode()) == {"payments", "private"}
    assert client.get(f"/incidents/{incident.pd_id}/").status_code == 200
    assert client.get(f"/incidents/{world['incidents']['platform'].pd_id}/").status_code == 404


def test_a_full_team_object_without_default_role_is_public_and_an_unknown_value_private(db):
    from incidents import mirror

    assert not mirror.upsert_team({"id": "PT1", "type": "team", "name": "Plain"}).is_private
    assert mirror.upsert_team({"id": "PT2", "type": "team", "name": "Odd", "default_role": "observer"}).is_private
    assert mirror.upsert_team({"id": "PT3", "type": "team", "name": "Closed", "default_role": "none"}).is_private
    # A later reference leaves what PagerDuty said in place.
    assert not mirror.upsert_team({"id": "PT1", "type": "team_reference", "summary": "Plain"}).is_private


def test_the_viewers_team_ids_and_the_scope_for_each_base_role(world):
    from accounts.visibility import scope_of, viewer_team_pks

    payments, security = world["teams"]["payments"], world["teams"]["security"]
    member = person("omar@example.com", "user", payments, security)
    assert viewer_team_pks(viewer=member) == {payments.pk, security.pk}
    assert scope_of(member).unrestricted  # the only private team is one of theirs
    assert not scope_of(person("rita@example.com", "user", payments)).unrestricted
    assert scope_of(person("ann@example.com", "admin")).everything
    assert scope_of(person("lee@example.com", "read_only_limited_user", payments)).nothing
    assert scope_of(person("riley@example.com", "restricted_access")).team_only
    assert scope_of(None).nothing


def test_a_desktop_notifications_text_is_not_served_for_an_incident_out_of_scope(client_as, limited, world):
    # live.js asks this view for the words of a notification: the live bus itself carries ids only.
    client = client_as(limited)
    hidden = client.get(f"/incidents/{world['incidents']['private'].pd_id}/summary/")
    assert hidden.status_code == 404
    assert TITLES["private"] not in hidden.content.decode()
    assert client.get(f"/incidents/{world['incidents']['platform'].pd_id}/summary/").status_code == 200


def test_the_merged_into_link_never_names_an_incident_out_of_scope(limited, world):
    from incidents.models import LogEntry
    from incidents.selectors import merged_into

    source = world["incidents"]["platform"]
    source.status = "resolved"
    source.save()
    target = world["incidents"]["private"]
    LogEntry.objects.create(
        pd_id="PLMERGE",
        incident=source,
        type="resolve_log_entry",
        summary=f"Resolved by merging into {target.pd_id}",
        created_at=timezone.now(),
        channel={"type": "merge"},
    )
    assert merged_into(viewer=limited, incident=source) is None
    assert merged_into(viewer=person("ann@example.com", "admin"), incident=source) == target
