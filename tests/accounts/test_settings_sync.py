"""The Settings page shows each sync's progress as a bar that follows along live, and can start a full sync."""

from unittest import mock

import pytest
from django.utils import timezone

from incidents.sync import STEPS, _Recorder
from pdportal import live
from pdportal.models import SyncState


@pytest.fixture
def running(db):
    return SyncState.objects.create(name="initial_sync", status="running", started_at=timezone.now())


def test_a_running_sync_shows_its_step_and_a_progress_bar(client_as, admin, api_key_mode, running):
    # Step 7 of 10 (incidents), 250 of 1,000 done: six whole steps plus a quarter of the seventh.
    _Recorder(running, None).report("incidents", 250, 1000)
    html = client_as(admin).get("/settings/", {"partial": "sync-progress"}).content.decode()
    assert html.lstrip().startswith('<section id="sync-progress"')
    assert '<progress max="100" value="62"' in html
    assert f"step 7 of {len(STEPS)}: incidents (250 of 1000)" in html
    assert 'id="sync-start"' in html


def test_the_whole_page_carries_the_live_section_and_finished_runs(client_as, admin, api_key_mode):
    SyncState.objects.create(name="initial_sync", status="done", total=1649, finished_at=timezone.now())
    SyncState.objects.create(name="reconcile", status="failed", error="Rate limited", finished_at=timezone.now())
    html = client_as(admin).get("/settings/").content.decode()
    assert 'data-live-topic="sync"' in html and 'hx-get="/settings/?partial=sync-progress"' in html
    assert "Done</span> just now, 1649 records" in html
    assert "Failed</span> just now: Rate limited" in html


def test_progress_is_published_on_the_live_bus_at_most_once_a_second(running):
    with mock.patch.object(live, "publish") as publish:
        recorder = _Recorder(running, None)
        for done in range(1, 50):
            recorder.report("users", done, 100)
    assert publish.call_count == 1
    assert publish.call_args.kwargs == {"topic": "sync", "ids": ["initial_sync"], "event": "sync.progress"}
    running.refresh_from_db()
    assert running.progress == {"step": "users", "number": 3, "count": len(STEPS), "done": 49, "total": 100}


def test_an_admin_starts_a_full_sync(client_as, admin, api_key_mode, django_capture_on_commit_callbacks):
    with (
        mock.patch("incidents.tasks.full_sync.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client_as(admin).post("/settings/sync/", follow=True)
    delay.assert_called_once_with()
    assert "Full sync queued" in response.content.decode()


def test_without_a_connection_sync_now_explains_why(client_as, admin, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    with mock.patch("incidents.tasks.full_sync.delay") as delay:
        response = client_as(admin).post("/settings/sync/", follow=True)
    delay.assert_not_called()
    assert "PD Portal is not connected to PagerDuty" in response.content.decode()
