"""/healthz reports the database and Redis as JSON."""

import pytest


@pytest.mark.django_db
def test_it_reports_database_and_redis_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True


@pytest.mark.django_db
def test_it_answers_503_when_redis_is_unreachable(client, settings):
    from pdportal import redis as portal_redis

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    portal_redis._client.cache_clear()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False
