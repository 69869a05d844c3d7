"""Persona fixtures (responder, observer, admin, outsider) matching the sandbox seed's users, and `client_as`."""

from __future__ import annotations

import ast
import random
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SEED_FILE = Path(__file__).resolve().parent.parent / "sandbox" / "api" / "seed.py"
ID_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class SeedUser:
    pd_id: str
    name: str
    email: str
    role: str
    time_zone: str
    job_title: str


@cache
def _seed_constants() -> dict:
    # The sandbox's models belong to another Django project, so read its seed's literals instead of importing it.
    tree = ast.parse(SEED_FILE.read_text())
    wanted = {"USERS", "TEAMS", "SEED"}
    found = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id in wanted:
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


@cache
def seed_users() -> dict[str, SeedUser]:
    """The sandbox seed's users by email, with the ids the seed's RNG gives them (teams first, then users)."""
    constants = _seed_constants()
    rng = random.Random(constants["SEED"])
    seen: set[str] = set()

    def next_id() -> str:
        while True:
            value = "P" + "".join(rng.choice(ID_ALPHABET) for _ in range(6))
            if value not in seen:
                seen.add(value)
                return value

    team_ids = [next_id() for _ in constants["TEAMS"]]
    del team_ids
    users = {}
    for name, email, role, tz, title in constants["USERS"]:
        users[email] = SeedUser(next_id(), name, email, role, tz, title)
    return users


def seed_user_with_role(role: str) -> SeedUser:
    return next(u for u in seed_users().values() if u.role == role)


RESPONDER_EMAIL = "responder@example.com"
OBSERVER_EMAIL = "observer@example.com"
ADMIN_EMAIL = "admin@example.com"
OUTSIDER_EMAIL = "outsider@example.org"
PASSWORD = "correct-horse-battery-staple"


@cache
def _password_hash(password: str) -> str:
    from django.contrib.auth.hashers import make_password

    return make_password(password)


def make_portal_user(*, email: str, password: str = PASSWORD, link: bool = True):
    """A Django user whose Profile is linked to the mirrored PagerDutyUser of the seed user with this email."""
    from django.contrib.auth import get_user_model

    from accounts.models import PagerDutyUser, Profile

    seed = seed_users().get(email)
    first, _, last = (seed.name if seed else "Olly Outsider").partition(" ")
    user = get_user_model().objects.create_user(
        username=email.split("@")[0], email=email, password=None, first_name=first, last_name=last
    )
    # Hashing is deliberately slow; every persona shares one precomputed hash per password.
    user.password = _password_hash(password)
    user.save(update_fields=["password"])
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        profile = Profile.objects.create(user=user)
    if link and seed is not None:
        pd_user, _ = PagerDutyUser.objects.update_or_create(
            pd_id=seed.pd_id,
            defaults={
                "name": seed.name,
                "email": seed.email,
                "role": seed.role,
                "time_zone": seed.time_zone,
                "job_title": seed.job_title,
                "raw": {"id": seed.pd_id, "type": "user", "name": seed.name, "email": seed.email, "role": seed.role},
            },
        )
        profile.pd_user = pd_user
        profile.role = seed.role
        profile.time_zone = seed.time_zone
        profile.save()
    return user


@pytest.fixture
def responder(db):
    return make_portal_user(email=RESPONDER_EMAIL)


@pytest.fixture
def observer(db):
    return make_portal_user(email=OBSERVER_EMAIL)


@pytest.fixture
def admin(db):
    return make_portal_user(email=ADMIN_EMAIL)


@pytest.fixture
def outsider(db):
    return make_portal_user(email=OUTSIDER_EMAIL, link=False)


@pytest.fixture
def client_as(db):
    """`client_as(user)` -> a Django test client signed in as that user."""
    from django.test import Client

    def make(user):
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


@pytest.fixture
def api_key_mode(settings):
    """API-key connection: the sandbox's account-level key; people act through it with `From: <email>`."""
    settings.PAGERDUTY_API_TOKEN = settings.SANDBOX_API_TOKEN
    settings.PAGERDUTY_CLIENT_ID = ""
    settings.PAGERDUTY_CLIENT_SECRET = ""
    return settings.PAGERDUTY_API_TOKEN
