"""The request budget waits instead of exceeding PagerDuty's per-token rate limit."""

import threading

from pdportal.pagerduty.budget import RequestBudget, budget_for, clear_budgets


class FakeTime:
    wall = 0.0  # the wall clock processes share (the Redis window's timestamps)

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_it_waits_for_the_window_to_slide_instead_of_exceeding_the_budget():
    t = FakeTime()
    budget = RequestBudget(per_minute=3, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        budget.acquire()
        t.now += 1
    assert t.sleeps == []
    budget.acquire()  # the first slot frees at 1000 + 60
    assert t.sleeps == [57.0]
    assert budget.peak_per_minute == 3
    assert budget.in_last_minute() == 3


def test_it_never_exceeds_the_budget_under_concurrency():
    budget = RequestBudget(per_minute=10_000)
    threads = [threading.Thread(target=lambda: [budget.acquire() for _ in range(100)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert budget.total == 800
    assert budget.peak_per_minute == 800


def test_clients_of_the_same_token_share_one_budget():
    clear_budgets()
    assert budget_for("token-a") is budget_for("token-a", 900)
    assert budget_for("token-a") is not budget_for("token-b")
    assert budget_for("token-a").per_minute == 900


def test_the_registry_never_keeps_the_token():
    from pdportal.pagerduty import budget as module

    clear_budgets()
    budget_for("super-secret-token")
    assert all("super-secret-token" not in key for key in module._registry)


def test_a_client_without_an_explicit_budget_uses_its_tokens_shared_budget():
    from pdportal.pagerduty import PagerDutyClient

    clear_budgets()
    first = PagerDutyClient(token="shared-token")
    second = PagerDutyClient(token="shared-token", auth="bearer")
    assert first.budget is second.budget is budget_for("shared-token")
    assert first.budget.per_minute == 900


def _shared(redis_url, key):
    import redis

    from pdportal.pagerduty.budget import SharedWindow

    client = redis.Redis.from_url(redis_url)
    client.delete(key)
    return SharedWindow(redis=client, key=key, clock=lambda: FakeTime.wall)


def test_processes_sharing_a_token_share_one_window_in_redis(redis_url):
    # Two budgets stand for two processes (a web worker and a Celery worker) sending with the same token.
    FakeTime.wall = 5000.0
    t = FakeTime()
    web = RequestBudget(per_minute=3, clock=t.clock, sleep=t.sleep)
    worker = RequestBudget(per_minute=3, clock=t.clock, sleep=t.sleep)
    web.shared = _shared(redis_url, "pdportal:test:budget")
    worker.shared = _shared(redis_url, "pdportal:test:budget")
    web.acquire()
    FakeTime.wall += 1
    worker.acquire()
    FakeTime.wall += 1
    web.acquire()
    assert t.sleeps == []
    # Each process alone is under its limit, but the token's window is full until the first slot frees.
    original = t.sleep

    def sleep_and_move_the_wall(seconds):
        original(seconds)
        FakeTime.wall += seconds

    worker._sleep = sleep_and_move_the_wall
    worker.acquire()
    assert t.sleeps == [58.0]


def test_a_redis_failure_falls_back_to_the_process_window(caplog):
    import redis

    from pdportal.pagerduty.budget import SharedWindow

    budget = RequestBudget(per_minute=5)
    budget.shared = SharedWindow(redis=redis.Redis(port=1, socket_connect_timeout=0.2), key="k")
    assert budget.acquire() == 0.0
    assert budget.acquire() == 0.0
    assert budget.total == 2
    warnings = [r for r in caplog.records if r.message.startswith("shared request budget unavailable")]
    assert len(warnings) == 1
    # A lost Redis is an expected, handled state: one line naming the error, no traceback (make run's output and
    # the worker's log stay readable while Redis stops before the processes that use it).
    assert "ConnectionError" in warnings[0].message
    assert warnings[0].exc_info is None


def test_any_other_error_of_the_shared_window_keeps_its_traceback(caplog):
    class Broken:
        def take(self, per_minute):
            raise ZeroDivisionError("a bug, not an outage")

    budget = RequestBudget(per_minute=5)
    budget.shared = Broken()
    assert budget.acquire() == 0.0
    (warning,) = [r for r in caplog.records if r.message.startswith("shared request budget unavailable")]
    assert warning.exc_info is not None


def test_portal_clients_share_their_tokens_window_without_naming_the_token(db, settings, redis_url):
    from accounts.clients import _client

    settings.REDIS_URL = redis_url
    client = _client(token="secret-token-123", auth="token", from_email=None, on_write=None)
    window = client.budget.shared
    assert window is not None and window.key.startswith("pdportal:budget:")
    assert "secret-token-123" not in window.key
    settings.PAGERDUTY_API_URL = "https://api.eu.pagerduty.com"
    other_host = _client(token="secret-token-123", auth="token", from_email=None, on_write=None)
    assert other_host.budget.shared.key != window.key
