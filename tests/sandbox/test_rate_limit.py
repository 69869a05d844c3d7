"""The sandbox's REST rate limit: ratelimit-* headers on every response and 429 once a token is over."""

import pytest

pytestmark = pytest.mark.sandbox


@pytest.fixture
def own_key(sandbox):
    """A key no other test uses, so its 60-second window starts empty; knobs restored afterwards."""
    key = sandbox.client.post("/_sandbox/keys", json={"description": "rate limit test"}).json()["api_key"]
    yield key
    sandbox.client.delete("/_sandbox/knobs")


def test_every_rest_response_carries_the_rate_limit_headers(sandbox, own_key):
    response = sandbox.get("/priorities", token=own_key)
    assert response.status_code == 200
    assert response.headers["ratelimit-limit"] == "960"
    assert response.headers["ratelimit-remaining"] == "959"
    assert 1 <= int(response.headers["ratelimit-reset"]) <= 60
    error = sandbox.get("/incidents/PNOTHERE", token=own_key)
    assert error.status_code == 404
    assert error.headers["ratelimit-remaining"] == "958"


def test_the_limit_is_per_token_and_answers_429_with_ratelimit_reset(sandbox, own_key):
    sandbox.set_knobs(rate_limit_per_min=3)
    statuses = [sandbox.get("/priorities", token=own_key).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = sandbox.get("/priorities", token=own_key)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == 2020
    assert limited.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(limited.headers["ratelimit-reset"]) <= 60
    other = sandbox.client.post("/_sandbox/keys", json={}).json()["api_key"]
    assert sandbox.get("/priorities", token=other).status_code == 200


def test_a_rate_limited_request_is_logged_with_its_status(sandbox, own_key):
    sandbox.set_knobs(rate_limit_per_min=1)
    sandbox.get("/priorities", token=own_key)
    sandbox.get("/priorities", token=own_key)
    statuses = [r["status"] for r in sandbox.requests_log(path="/priorities")[-2:]]
    assert statuses == [200, 429]


def test_the_window_slides_so_old_hits_free_slots_one_by_one():
    from sandbox.knobs import SlidingWindowLimiter

    limiter = SlidingWindowLimiter(window=60)
    assert limiter.hit("t", 2, at=0.0)[0]
    assert limiter.hit("t", 2, at=30.0) == (True, 0, 30)
    allowed, remaining, reset = limiter.hit("t", 2, at=45.0)
    assert (allowed, remaining, reset) == (False, 0, 15)
    # At t=60 the first hit has left the window, the second (t=30) has not.
    assert limiter.hit("t", 2, at=60.0)[0]
    assert not limiter.hit("t", 2, at=61.0)[0]
    assert limiter.hit("other", 2, at=61.0)[0]
