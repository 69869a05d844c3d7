"""Review of issues 11/12: a live stream carries only what its viewer may see. An invalidation of a private team's
incident (its id, assignees, service) never reaches a non-member's stream; it reaches a member's."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient
from django.utils import timezone

from accounts.models import PagerDutyUser, Profile, Team
from incidents.models import Incident
from pdportal import live
from services.models import Service

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _clean_stream(settings, redis_url):
    from pdportal.redis import get_redis

    settings.LIVE_HEARTBEAT_SECONDS = 5
    get_redis().delete(live.STREAM)
    yield
    get_redis().delete(live.STREAM)


@pytest.fixture
def world(db):
    security = Team.objects.create(pd_id="PTSEC", name="Security", default_role="none")
    platform = Team.objects.create(pd_id="PTPLAT", name="Platform", default_role="manager")
    vault = Service.objects.create(pd_id="PSVAULT", name="Secrets Vault")
    vault.teams.add(security)
    gateway = Service.objects.create(pd_id="PSGATE", name="API Gateway")
    gateway.teams.add(platform)
    now = timezone.now()
    for pd_id, service in (("PQVAULT", vault), ("PQGATE", gateway)):
        Incident.objects.create(pd_id=pd_id, number=1, title=pd_id, status="triggered", service=service, created_at=now)
    return {"security": security, "platform": platform}


def person(email: str, *teams: Team, role: str = "user"):
    pd_user = PagerDutyUser.objects.create(pd_id=f"PU{email[:6].upper()}", name=email, email=email, role=role)
    pd_user.teams.set(teams)
    user = get_user_model().objects.create_user(username=email.split("@")[0], email=email)
    Profile.objects.update_or_create(user=user, defaults={"pd_user": pd_user, "role": role})
    return get_user_model().objects.get(pk=user.pk)


def _frames_after_publishing(user, messages: list[dict], last_marker: str = "PQGATE") -> list[dict]:
    """Open the viewer's stream, publish `messages` then a public marker, and return every invalidation received."""

    async def scenario():
        client = AsyncClient()
        await client.aforce_login(user, backend="django.contrib.auth.backends.ModelBackend")
        response = await client.get("/live/", secure=True)
        assert response.status_code == 200
        chunks = response.streaming_content.__aiter__()
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while "event: ready" not in "".join(seen):
            seen.append((await asyncio.wait_for(chunks.__anext__(), 5)).decode())
        for message in [*messages, {"topic": "incident", "ids": [last_marker], "event": "incident.annotated"}]:
            await sync_to_async(live.publish, thread_sensitive=False)(**message)
        received: list[dict] = []
        while time.monotonic() < deadline:
            chunk = (await asyncio.wait_for(chunks.__anext__(), 5)).decode()
            if "event: invalidate" not in chunk:
                continue
            data = json.loads(chunk.split("data: ", 1)[1])
            received.append(data)
            if data.get("ids") == [last_marker]:
                break
        await chunks.aclose()
        return received

    async def wrapper():
        try:
            return await scenario()
        finally:
            await live.hub.stop()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wrapper()).result()


PRIVATE = {
    "topic": "incident",
    "ids": ["PQVAULT"],
    "event": "incident.triggered",
    "assignees": ["PUONCALL"],
    "related": {"service": ["PSVAULT"]},
}


def test_a_private_teams_incident_never_reaches_a_non_members_stream(world):
    outsider = person("riley@example.com", world["platform"])
    received = _frames_after_publishing(outsider, [PRIVATE])
    assert received[-1]["ids"] == ["PQGATE"], received
    text = json.dumps(received)
    for secret in ("PQVAULT", "PSVAULT", "PUONCALL"):
        assert secret not in text, received


def test_a_mixed_invalidation_reaches_a_non_member_without_the_private_incident(world):
    outsider = person("riley@example.com", world["platform"])
    mixed = {**PRIVATE, "ids": ["PQVAULT", "PQGATE"], "related": {"service": ["PSVAULT", "PSGATE"]}}
    received = _frames_after_publishing(outsider, [mixed])
    first = received[0]
    assert first["ids"] == ["PQGATE"]
    assert "PSVAULT" not in json.dumps(first) and "PQVAULT" not in json.dumps(first)


def test_a_member_of_the_private_team_receives_it(world):
    member = person("omar@example.com", world["security"])
    received = _frames_after_publishing(member, [PRIVATE])
    assert received[0]["ids"] == ["PQVAULT"]
    assert received[0]["related"] == {"service": ["PSVAULT"]}


def test_an_admin_and_the_assignee_receive_it(world):
    admin = person("adam@example.com", role="admin")
    assert _frames_after_publishing(admin, [PRIVATE])[0]["ids"] == ["PQVAULT"]
    assignee = person("rita@example.com", world["platform"])
    Incident.objects.get(pd_id="PQVAULT").assignees.add(assignee.profile.pd_user)
    assert _frames_after_publishing(assignee, [PRIVATE])[0]["ids"] == ["PQVAULT"]


def test_a_resync_without_ids_reaches_everyone(world):
    outsider = person("riley@example.com", world["platform"])
    received = _frames_after_publishing(outsider, [{"topic": "incident", "event": "resync"}])
    assert received[0]["event"] == "resync"
