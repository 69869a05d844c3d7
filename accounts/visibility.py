"""What a person may see in the shared mirror, by PagerDuty's own rules: base role, team membership, private teams.

PagerDuty (support.pagerduty.com, "Team-Based Permissions" and "Advanced Permissions"; README, Visibility):
- the account owner and global admins see every object; visibility settings never apply to them;
- a private team (REST `default_role: "none"`) hides the objects associated with it from everyone who is not a
  member of it;
- the `restricted_access` base role sees only the objects of the teams it belongs to;
- the `read_only_limited_user` base role (Limited Stakeholder) sees no account objects, only its own profile;
- everyone else (`user`, `limited_user`, `observer`, `read_only_user`) sees every object no private team hides.

`scope_of(viewer)` turns a signed-in person into a `Scope` (two small queries, kept on the user object for the rest
of the request); each app filters its own models with `Scope.restrict()` (or `Scope.condition()` to add to it),
giving the relation that ties a row to teams. A new page of team objects (say schedules) does the same:
`scope_of(request.user).restrict(Schedule.objects.all(), touching=lambda pks: Q(teams__in=pks))`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import PagerDutyUser, Profile, Team
from .roles import PortalRole, portal_role

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

# PagerDuty base roles (REST `user.role`) with their visibility.
SEES_EVERYTHING = frozenset({"owner", "admin"})
SEES_ONLY_OWN_TEAMS = frozenset({"restricted_access"})
SEES_ONLY_OWN_PROFILE = frozenset({"read_only_limited_user"})


@dataclass(frozen=True)
class Scope:
    """One person's view of the mirror, in team primary keys (never PagerDuty ids: no join needed to filter).

    everything: owner, global admin (and the unlinked superuser who first connects the portal).
    nothing:    no account objects at all (Limited Stakeholder, or no portal role).
    team_only:  only objects associated with one of `team_pks` (Restricted Access).
    otherwise:  everything except objects associated with a team in `hidden_team_pks` (the private teams the person
                is not on), unless the object is also associated with one of the person's own teams.
    """

    everything: bool = False
    nothing: bool = False
    team_only: bool = False
    pd_user_pk: int | None = None
    team_pks: frozenset[int] = field(default_factory=frozenset)
    hidden_team_pks: frozenset[int] = field(default_factory=frozenset)

    @property
    def unrestricted(self) -> bool:
        """True when this person sees every object: an admin, or anyone while no private team hides anything."""
        return self.everything or not (self.nothing or self.team_only or self.hidden_team_pks)

    def sees(self, *, team_pks: Collection[int], person_pks: Collection[int]) -> bool:
        """The same rule in Python, for one object tied to these teams and assigned to these people (mirror pks):
        what a live stream may tell this person about (pdportal.live.sent_to_viewer)."""
        if self.everything:
            return True
        if self.nothing:
            return False
        if self.pd_user_pk is not None and self.pd_user_pk in person_pks:
            return True  # PagerDuty pages them about it (incidents.selectors.incidents_visible_to)
        teams = set(team_pks)
        if self.team_only:
            return bool(teams & self.team_pks)
        return not (teams & self.hidden_team_pks) or bool(teams & self.team_pks)

    def condition(self, *, touching: Callable[[Collection[int]], Q]) -> Q | None:
        """The filter for what this person sees (None: no filter at all); `touching(team_pks)` is true for rows
        tied to one of those teams."""
        if self.everything:
            return None
        if self.nothing or (self.team_only and not self.team_pks):
            return Q(pk__in=[])
        if self.team_only:
            return touching(self.team_pks)
        if not self.hidden_team_pks:
            return None
        shown = ~touching(self.hidden_team_pks)
        if self.team_pks:
            shown |= touching(self.team_pks)
        return shown

    def restrict(self, queryset: QuerySet, *, touching: Callable[[Collection[int]], Q]) -> QuerySet:
        """`queryset` narrowed to what this person sees (see `condition`)."""
        condition = self.condition(touching=touching)
        return queryset if condition is None else queryset.filter(condition)


EVERYTHING = Scope(everything=True)
NOTHING = Scope(nothing=True)

# Whose view to apply: a Scope, or a signed-in person (whose Scope is derived once per request); None sees nothing.
type Viewer = Scope | AbstractBaseUser | AnonymousUser | None

_CACHE = "_pdportal_visibility_scope"


def _pd_role(user: AbstractBaseUser | AnonymousUser) -> tuple[str, int | None]:
    """The person's PagerDuty base role and the primary key of their PagerDuty user (None: not linked)."""
    try:
        profile = user.profile  # type: ignore[union-attr]
    except (Profile.DoesNotExist, AttributeError):
        return "", None
    if not profile.pd_user_id:
        return (profile.role or "").strip().lower(), None
    # The PagerDuty user row (with its raw JSON) is read only when the profile has no role of its own.
    role = profile.role or profile.pd_user.role or ""
    return role.strip().lower(), profile.pd_user_id


def _teams(pd_user_pk: int) -> tuple[frozenset[int], frozenset[int]]:
    """The person's own teams, and the private teams (or not known yet to be public: a team only seen as a
    reference so far) they are not on. Two plain queries: cheaper to build than one with a subquery."""
    mine = frozenset(
        PagerDutyUser.teams.through.objects.filter(pagerdutyuser_id=pd_user_pk).values_list("team_id", flat=True)
    )
    hidden = frozenset(Team.objects.exclude(default_role=Team.PUBLIC).values_list("pk", flat=True)) - mine
    return mine, hidden


def _compute(user: AbstractBaseUser | AnonymousUser) -> Scope:
    role = portal_role(user)
    if role is None:
        return NOTHING
    pd_role, pd_user_pk = _pd_role(user)
    if pd_user_pk is None:
        # portal_role() only gives an unlinked person a role when a superuser connects the portal: an admin.
        return EVERYTHING if role == PortalRole.ADMIN else NOTHING
    if pd_role in SEES_EVERYTHING:
        return EVERYTHING
    if pd_role in SEES_ONLY_OWN_PROFILE:
        return Scope(nothing=True, pd_user_pk=pd_user_pk)
    mine, hidden = _teams(pd_user_pk)
    if pd_role in SEES_ONLY_OWN_TEAMS:
        return Scope(team_only=True, pd_user_pk=pd_user_pk, team_pks=mine)
    return Scope(pd_user_pk=pd_user_pk, team_pks=mine, hidden_team_pks=hidden)


def scope_of(viewer: Viewer) -> Scope:
    """The person's Scope (a Scope passes through; None or anonymous sees nothing); computed once per request."""
    if isinstance(viewer, Scope):
        return viewer
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return NOTHING
    cached = getattr(viewer, _CACHE, None)
    if isinstance(cached, Scope):
        return cached
    scope = _compute(viewer)
    # An object that takes no attributes computes it again next time.
    with contextlib.suppress(AttributeError):
        setattr(viewer, _CACHE, scope)
    return scope


def scopes_by_user(user_pks: Collection[int]) -> dict[int, Scope]:
    """The Scope of each of these portal users (the open live streams' viewers), read fresh from the database."""
    users = get_user_model().objects.filter(pk__in=list(user_pks)).select_related("profile__pd_user")
    return {user.pk: _compute(user) for user in users}


def viewer_team_pks(*, viewer: Viewer) -> frozenset[int]:
    """Primary keys of the viewer's own PagerDuty teams."""
    return scope_of(viewer).team_pks


# -- the people directory and the teams themselves -------------------------------------------------------------


def teams_touching_themselves(team_pks: Collection[int]) -> Q:
    return Q(pk__in=list(team_pks))


def teams_visible_to(*, viewer: Viewer) -> QuerySet[Team]:
    """Teams the person may see (pickers, filters): a private team only to its members."""
    return scope_of(viewer).restrict(Team.objects.all(), touching=teams_touching_themselves)


def people_visible_to(*, viewer: Viewer) -> QuerySet[PagerDutyUser]:
    """People the person may see: everyone, except that Restricted Access sees its teams' members and itself,
    and a Limited Stakeholder only itself. (PagerDuty's private teams hide services, escalation policies and
    schedules, not people.)"""
    scope = scope_of(viewer)
    people = PagerDutyUser.objects.all()
    if scope.everything:
        return people
    if scope.team_only or scope.nothing:
        own = Q(pk=scope.pd_user_pk) if scope.pd_user_pk is not None else Q(pk__in=[])
        if scope.team_only and scope.team_pks:
            through = PagerDutyUser.teams.through
            own |= Q(Exists(through.objects.filter(pagerdutyuser_id=OuterRef("pk"), team_id__in=scope.team_pks)))
        return people.filter(own)
    return people
