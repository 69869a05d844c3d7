"""The list's picker options are kept per process and scope until a reference table changes (pdportal.reference_cache).

What must never happen: a rename or a move that the page does not show, or one person's options shown to another.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.models import Team
from incidents.selectors import filter_options, user_options
from pdportal import reference_cache
from pdportal.redis import get_fast_redis
from services.models import Service
from tests.security.test_role_scoping import person, world  # noqa: F401 - the role-scoping world and its people

pytestmark = pytest.mark.django_db


def service_names(viewer) -> list[str]:
    return [name for _, name in filter_options(viewer=viewer)["services"]]


@pytest.fixture
def owner(world):  # noqa: F811 - the imported fixture
    return person("olive@example.com", "owner")


@pytest.fixture
def stranger(world):  # noqa: F811 - the imported fixture
    """A plain user on Platform only: the private team Security's services are not theirs to see."""
    return person("sam@example.com", "user", world["teams"]["platform"])


def test_it_reads_the_pickers_once_while_nothing_changes(owner, django_assert_num_queries):
    first = filter_options(viewer=owner)
    user_options(viewer=owner)
    with django_assert_num_queries(0):
        assert filter_options(viewer=owner) == first
        user_options(viewer=owner)


def test_a_renamed_service_shows_at_once(owner):
    assert "Checkout" in service_names(owner)
    service = Service.objects.get(pd_id="PSPAY")
    service.name = "Checkout v2"
    service.save()
    assert "Checkout v2" in service_names(owner) and "Checkout" not in service_names(owner)


def test_a_change_committed_by_another_process_is_seen(owner):
    assert "Checkout" in service_names(owner)
    # Another process's write: no signal here, only the shared generation it raises on commit.
    Service.objects.filter(pd_id="PSPAY").update(name="Checkout v3")
    get_fast_redis().incr(reference_cache.KEY)
    assert "Checkout v3" in service_names(owner)


@pytest.mark.django_db(transaction=True)
def test_a_commit_raises_the_shared_generation(owner):
    before = int(get_fast_redis().get(reference_cache.KEY) or 0)
    Team.objects.create(pd_id="PTNEW", name="Newcomers", default_role="manager")
    assert int(get_fast_redis().get(reference_cache.KEY) or 0) == before + 1


def test_an_attacker_never_gets_options_another_scope_filled(owner, stranger):
    # The owner fills the cache first, with every service; the stranger's scope has its own entry.
    assert {"Secrets Vault", "Ledger"} <= set(service_names(owner))
    names = service_names(stranger)
    assert "Secrets Vault" not in names and "Ledger" not in names
    assert "API Gateway" in names


def test_a_service_moved_onto_a_private_team_leaves_the_pickers_at_once(world, stranger):  # noqa: F811
    assert "API Gateway" in service_names(stranger)
    gateway = Service.objects.get(pd_id="PSPLAT")
    gateway.teams.set([world["teams"]["security"]])
    assert "API Gateway" not in service_names(stranger)


def test_without_redis_nothing_is_kept(owner, settings, django_assert_num_queries):
    settings.REDIS_URL = ""
    filter_options(viewer=owner)
    with django_assert_num_queries(4):
        filter_options(viewer=owner)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_raises_the_generation_once(owner, django_capture_on_commit_callbacks):
    with transaction.atomic(), django_capture_on_commit_callbacks(execute=False) as callbacks:
        for n in range(3):
            Team.objects.create(pd_id=f"PTMANY{n}", name=f"Team {n}", default_role="manager")
    assert callbacks.count(reference_cache._raise_generation) == 1
