"""Alias of rotate_encryption_keys."""

from .rotate_encryption_keys import Command  # noqa: F401
