"""Fixtures for the incidents tests: the portal pointed at the sandbox in API-key mode, with a roomy budget."""

from __future__ import annotations

import pytest

from pdportal.pagerduty import PagerDutyClient, RequestBudget


@pytest.fixture
def portal_on_sandbox(fresh_sandbox, settings, api_key_mode):
    """The portal talks to a freshly reset sandbox with the account key (people act with `From: <email>`)."""
    settings.PAGERDUTY_API_URL = fresh_sandbox.url
    settings.PAGERDUTY_EVENTS_URL = fresh_sandbox.url
    # Tests are not rate-limited by PagerDuty; the shared per-token budget must not make them wait.
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    return fresh_sandbox


@pytest.fixture
def portal_on_small_sandbox(small_sandbox, settings, api_key_mode):
    """portal_on_sandbox, on the small seed: for tests that need a whole sync, not 200 incidents of it."""
    settings.PAGERDUTY_API_URL = small_sandbox.url
    settings.PAGERDUTY_EVENTS_URL = small_sandbox.url
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    return small_sandbox


@pytest.fixture
def sandbox_client(sandbox):
    return PagerDutyClient(token=sandbox.api_token, api_url=sandbox.url, budget=RequestBudget(per_minute=1_000_000))


@pytest.fixture(autouse=True)
def _factory_team_is_public(request):
    """The factories' incidents are on team PTEAM1: mirror it as PagerDuty lists it (public), as a sync does before
    any incident. A team known only by reference counts as private (accounts.visibility), hidden from non-members."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and "db" not in request.fixturenames:
        return
    transactional = marker is not None and marker.kwargs.get("transaction")
    request.getfixturevalue("transactional_db" if transactional else "db")
    from accounts.models import Team

    Team.objects.get_or_create(pd_id="PTEAM1", defaults={"name": "Platform", "default_role": Team.PUBLIC})


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # The test client speaks plain HTTP; HTTPS redirects are the security middleware's business.
    settings.SECURE_SSL_REDIRECT = False


QUICK_STEPS = ("priorities", "teams", "users", "escalation_policies", "services", "templates", "incidents")


@pytest.fixture
def mirrored(portal_on_sandbox, sandbox_client):
    """The freshly reset sandbox's directory and incidents in the mirror (alerts etc. are fetched per test)."""
    from incidents import sync

    sync.sync_all(client=sandbox_client, steps=QUICK_STEPS)
    portal_on_sandbox.clear_log()
    return portal_on_sandbox


@pytest.fixture
def pick(mirrored, sandbox_client):
    """`pick(status)`: a mirrored incident with that status, with its alerts and notes mirrored too."""
    from incidents import sync
    from incidents.models import Incident

    used: set[str] = set()

    def choose(status: str = "triggered", *, min_alerts: int = 0):
        qs = Incident.objects.filter(status=status, alert_count__gte=min_alerts).exclude(pd_id__in=used)
        incident = qs.order_by("-created_at").first()
        assert incident is not None, f"the sandbox seed has no {status} incident left"
        used.add(incident.pd_id)
        sync.sync_incident_details(client=sandbox_client, incident_ids=[incident.pd_id])
        mirrored.clear_log()
        return incident

    return choose


@pytest.fixture(autouse=True)
def _pagerduty_outside_transactions(pagerduty_outside_transactions):
    """Every action path here reads PagerDuty first and then writes the mirror in one short transaction."""
