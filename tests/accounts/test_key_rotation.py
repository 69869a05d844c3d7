"""Key rotation: add a new first key, old ciphertexts still decrypt, and the command re-encrypts everything."""

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.clients import access_token_for, store_grant
from accounts.models import Connection, OAuthGrant
from pdportal import crypto
from pdportal.pagerduty.oauth import TokenSet

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


@pytest.fixture
def stored(responder, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    grant = store_grant(
        user=responder,
        token_set=TokenSet(
            access_token="access-1",
            refresh_token="refresh-1",
            expires_at=timezone.now() + timedelta(hours=1),
            scope="read",
        ),
    )
    Connection.objects.create(pk=1, mode=Connection.Mode.API_KEY, api_key=crypto.encrypt("the-api-key"))
    return grant


def _only_new_key_decrypts(value: str) -> str:
    return Fernet(NEW.encode()).decrypt(value.encode()).decode()


def test_an_old_key_still_decrypts_after_a_new_key_is_added(stored, settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert access_token_for(grant=OAuthGrant.objects.get(pk=stored.pk)) == "access-1"


def test_the_command_re_encrypts_every_secret_with_the_first_key(stored, settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_encryption_keys")
    grant = OAuthGrant.objects.get(pk=stored.pk)
    assert _only_new_key_decrypts(grant.access_token) == "access-1"
    assert _only_new_key_decrypts(grant.refresh_token) == "refresh-1"
    assert _only_new_key_decrypts(Connection.objects.get().api_key) == "the-api-key"
    # With the old key retired, everything still decrypts.
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert access_token_for(grant=grant) == "access-1"


def test_the_command_re_encrypts_webhook_secrets(stored, settings):
    from services.models import WebhookSubscription

    subscription = WebhookSubscription.objects.create(
        pd_id="PWH0001", url="https://portal.example/hooks/pagerduty/", secret=crypto.encrypt("whsec")
    )
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_keys")
    assert _only_new_key_decrypts(WebhookSubscription.objects.get(pk=subscription.pk).secret) == "whsec"


def test_a_value_no_key_can_decrypt_is_reported_not_lost(stored, settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key was dropped too early
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert crypto.decrypt(OAuthGrant.objects.get(pk=stored.pk).access_token) == "access-1"
