"""Authorisation guard for the sandbox REST views: scopes, role write rights, admin-only actions."""

from sandbox.api.errors import ApiError


def require(request, scope, write=False, admin=False):
    """Return the request's Actor, or raise ApiError (401/403, PagerDuty's codes) when it may not act.

    `scope` is a scoped-OAuth name like "incidents.read"; a ".write" scope implies `write=True`.
    """
    actor = getattr(request, "pd_actor", None)
    if actor is None:
        raise ApiError(401, "Unauthorized", 2006)
    write = write or scope == "write" or scope.endswith(".write")
    if not actor.can(scope):
        raise ApiError(403, "Access Denied", 2010, [f"The access token does not grant the scope {scope}."])
    if write and not actor.can_write_as_role():
        role = actor.role or "read-only key"
        raise ApiError(403, "Access Denied", 2010, [f"The {role} role does not allow changes."])
    if admin and not actor.is_admin():
        raise ApiError(403, "Access Denied", 2010, ["Only account owners and admins may do this."])
    return actor
