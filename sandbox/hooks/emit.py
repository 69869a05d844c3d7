"""Emit webhook v3 events after sandbox state changes (stub: no-op until delivery lands)."""


def emit(event_type, *, resource, agent=None, data=None):
    """Queue a webhook v3 event for every matching subscription (currently a no-op)."""
