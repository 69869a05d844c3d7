"""Authorisation guard used by the sandbox REST views (stub: allows everything)."""


def require(request, scope, write=False, admin=False):
    """Raise ApiError(403) when the request's actor may not use scope (currently allows all)."""
