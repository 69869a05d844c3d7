"""OAuth 2.0: code exchange, token refresh and revocation, with typed errors."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from pdportal.pagerduty.errors import OAuthError
from pdportal.pagerduty.oauth import exchange_code, refresh

OAUTH = "https://identity.pagerduty.test"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_exchange_code_posts_a_form_and_returns_a_token_set(mocked):
    mocked.post(
        f"{OAUTH}/oauth/token",
        json={"access_token": "at-SECRET-1", "refresh_token": "rt-SECRET-2", "expires_in": 3600, "scope": "read write"},
    )
    tokens = exchange_code(
        oauth_url=OAUTH,
        client_id="cid",
        client_secret="cs",
        code="the-code",
        redirect_uri="https://portal.test/cb",
        code_verifier="ver",
        now=lambda: NOW,
    )
    assert (tokens.access_token, tokens.refresh_token, tokens.scope) == ("at-SECRET-1", "rt-SECRET-2", "read write")
    assert tokens.expires_at == NOW + timedelta(hours=1)
    request = mocked.calls[0].request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(request.body)) == {
        "grant_type": "authorization_code",
        "client_id": "cid",
        "client_secret": "cs",
        "code": "the-code",
        "redirect_uri": "https://portal.test/cb",
        "code_verifier": "ver",
    }
    assert "SECRET" not in repr(tokens)


def test_refresh_keeps_the_old_refresh_token_when_not_rotated(mocked):
    mocked.post(f"{OAUTH}/oauth/token", json={"access_token": "new", "expires_in": 60})
    tokens = refresh(oauth_url=OAUTH, client_id="cid", client_secret="cs", refresh_token="old-rt", now=lambda: NOW)
    assert (tokens.access_token, tokens.refresh_token) == ("new", "old-rt")
    assert dict(parse_qsl(mocked.calls[0].request.body))["grant_type"] == "refresh_token"
    assert tokens.expires_within(120, now=NOW)


def test_an_invalid_grant_becomes_an_oauth_error(mocked):
    mocked.post(
        f"{OAUTH}/oauth/token",
        status=400,
        json={"error": "invalid_grant", "error_description": "The refresh token is invalid or expired."},
    )
    with pytest.raises(OAuthError) as info:
        refresh(oauth_url=OAUTH, client_id="cid", client_secret="cs", refresh_token="dead")
    err = info.value
    assert (err.error, err.status) == ("invalid_grant", 400)
    assert err.error_description == "The refresh token is invalid or expired."
    assert "invalid_grant" in str(err)
    assert len(mocked.calls) == 1


def test_an_answer_without_access_token_is_an_error(mocked):
    mocked.post(f"{OAUTH}/oauth/token", json={"token_type": "bearer"})
    with pytest.raises(OAuthError, match="without an access token"):
        refresh(oauth_url=OAUTH, client_id="cid", client_secret="cs", refresh_token="rt")
