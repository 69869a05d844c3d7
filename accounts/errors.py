"""Errors of the identity layer: who may act, and with which PagerDuty credentials."""

from __future__ import annotations


class IdentityError(Exception):
    """Base class: the portal cannot act as this person right now; `str(err)` is shown to them."""


class ReauthenticationRequired(IdentityError):
    """The person's PagerDuty grant is revoked or expired: they must sign in again."""

    def __init__(
        self, message: str = "Your PagerDuty sign-in has expired or was revoked. Please sign in again."
    ) -> None:
        super().__init__(message)


class NoAccountConnection(IdentityError):
    """Neither an API key nor an admin's OAuth grant is configured for background work."""

    def __init__(
        self,
        message: str = (
            "PD Portal is not connected to PagerDuty: set PAGERDUTY_API_TOKEN, or have an admin add an API key "
            "or connect with OAuth on the Settings page (/settings/)."
        ),
    ) -> None:
        super().__init__(message)


class NotLinked(IdentityError):
    """The signed-in account is not linked to a PagerDuty user, so it cannot act in PagerDuty."""

    def __init__(
        self, message: str = "Your portal account is not linked to a PagerDuty user; ask an admin to link it."
    ) -> None:
        super().__init__(message)
