"""The request budget waits instead of exceeding PagerDuty's per-token rate limit."""

import threading

from pdportal.pagerduty.budget import RequestBudget, budget_for, clear_budgets


class FakeTime:
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
