"""Encryption at rest for secrets (tokens, webhook secrets): MultiFernet over FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # Without configured keys a demo still encrypts, with a key derived from SECRET_KEY.
        derived = base64.urlsafe_b64encode(hashlib.sha256(("pdportal-fields:" + secret_key).encode()).digest())
        return MultiFernet([Fernet(derived)])
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be comma-separated Fernet keys (Fernet.generate_key())"
        ) from None


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    """Encrypt with the first key."""
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt with any configured key; raises ValueError when none fits."""
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise ValueError("this secret was encrypted with a key that is no longer in FIELD_ENCRYPTION_KEYS") from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the first key."""
    return _current().rotate(ciphertext.encode()).decode()
