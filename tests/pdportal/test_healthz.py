"""/healthz reports the database and Redis as JSON: ok or failing for anyone, the checks for an admin."""

import pytest


@pytest.mark.django_db
def test_it_reports_database_and_redis_ok(client, client_as, admin):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}

    body = client_as(admin).get("/healthz").json()
    assert body["status"] == "ok" and body["ok"] is True
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True


@pytest.mark.django_db
def test_it_answers_503_when_redis_is_unreachable(client, client_as, admin, settings):
    from pdportal import redis as portal_redis

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    portal_redis._client.cache_clear()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "failing"}
    assert client_as(admin).get("/healthz").json()["redis"]["ok"] is False
