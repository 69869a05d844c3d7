"""Reads for services and webhook subscriptions: the mirror only, never PagerDuty."""

from __future__ import annotations

import logging
from collections.abc import Collection
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.visibility import Viewer, scope_of, teams_visible_to
from pdportal import crypto
from pdportal.models import WebhookEvent

from .events import PING_EVENT_TYPE
from .models import EscalationPolicy, Service, WebhookSubscription

logger = logging.getLogger(__name__)

OPEN_STATUSES = ("triggered", "acknowledged")


def _open_counts() -> Subquery:
    # Through the reverse relation incidents declare on Service: services never import the incidents app.
    counts = (
        Service.objects.filter(pk=OuterRef("pk"))
        .annotate(n=Count("incidents", filter=Q(incidents__status__in=OPEN_STATUSES)))
        .values("n")
    )
    return Subquery(counts, output_field=IntegerField())


# -- visibility (accounts.visibility: PagerDuty's team rules) ----------------------------------------------------


def policies_touching(team_pks: Collection[int]) -> Q:
    """Escalation policies associated with one of these teams."""
    return Q(pk__in=policy_ids_of_teams(team_pks))


def policy_ids_of_teams(team_pks: Collection[int]) -> QuerySet:
    """Primary keys of the escalation policies of these teams (a subquery)."""
    return EscalationPolicy.teams.through.objects.filter(team_id__in=list(team_pks)).values("escalationpolicy_id")


def service_ids_of_teams(team_pks: Collection[int]) -> QuerySet:
    """Primary keys of the services of these teams: the service's own teams, or its escalation policy's team
    (PagerDuty puts a policy's services on the policy's team)."""
    team_pks = list(team_pks)
    # Uncorrelated subqueries: the database evaluates each once (a hashed set), not once per row.
    return Service.objects.filter(
        Q(pk__in=Service.teams.through.objects.filter(team_id__in=team_pks).values("service_id"))
        | Q(escalation_policy_id__in=policy_ids_of_teams(team_pks))
    ).values("pk")


def services_touching(team_pks: Collection[int]) -> Q:
    return Q(pk__in=service_ids_of_teams(team_pks))


def services_visible_to(*, viewer: Viewer) -> QuerySet[Service]:
    """Services the person may see: a private team's services only to its members; Restricted Access its teams'."""
    return scope_of(viewer).restrict(Service.objects.all(), touching=services_touching)


def escalation_policies_visible_to(*, viewer: Viewer) -> QuerySet[EscalationPolicy]:
    """Escalation policies the person may see, by the same rule as services."""
    return scope_of(viewer).restrict(EscalationPolicy.objects.all(), touching=policies_touching)


def service_list(*, viewer: Viewer, query: str = "", name: str = "", team_id: str = "") -> QuerySet[Service]:
    """Services matching the filters, each with `open_incident_count` from one annotated query (no N+1)."""
    qs = services_visible_to(viewer=viewer).select_related("escalation_policy").prefetch_related("teams")
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(description__icontains=query))
    if name:
        qs = qs.filter(name=name)
    if team_id:
        qs = qs.filter(teams__pd_id=team_id).distinct()
    return qs.annotate(open_incident_count=Coalesce(_open_counts(), Value(0))).order_by("name", "pd_id")


def service_open_counts(*, viewer: Viewer, pd_ids: list[str]) -> dict[str, int]:
    """{service pd_id: open incident count} for the live counts fragment."""
    rows = services_visible_to(viewer=viewer).filter(pd_id__in=pd_ids).annotate(n=Coalesce(_open_counts(), Value(0)))
    return {row.pd_id: row.n for row in rows}


def service_get(*, viewer: Viewer, pd_id: str) -> Service | None:
    """One service the person may see, or None (the view answers 404 either way: no existence leak)."""
    visible = services_visible_to(viewer=viewer).select_related("escalation_policy").prefetch_related("teams")
    return visible.filter(pd_id=pd_id).first()


def service_recent_incidents(*, viewer: Viewer, service: Service, limit: int = 10):
    """The service's newest incidents the person may see (an incident can also be on another team's policy)."""
    incidents = service.incidents.all()
    teams_through = incidents.model.teams.through  # the Incident model, without importing the layer above

    def touching(team_pks: Collection[int]) -> Q:
        team_pks = list(team_pks)
        return (
            Q(pk__in=teams_through.objects.filter(team_id__in=team_pks).values("incident_id"))
            | Q(service_id__in=service_ids_of_teams(team_pks))
            | Q(escalation_policy_id__in=policy_ids_of_teams(team_pks))
        )

    visible = scope_of(viewer).restrict(incidents, touching=touching)
    return visible.select_related("priority").order_by("-created_at")[:limit]


def escalation_policy_choices(*, viewer: Viewer) -> list[tuple[str, str]]:
    qs = escalation_policies_visible_to(viewer=viewer)
    return list(qs.order_by("name").values_list("pd_id", "name"))


def team_choices(*, viewer: Viewer) -> list[tuple[str, str]]:
    return list(teams_visible_to(viewer=viewer).order_by("name").values_list("pd_id", "name"))


def service_choices(*, viewer: Viewer) -> list[tuple[str, str]]:
    return list(services_visible_to(viewer=viewer).order_by("name").values_list("pd_id", "name"))


EVENTS_V2_INTEGRATION = "events_api_v2_inbound_integration"


def _integration_kinds(raw: object) -> set[str] | None:
    """The integration types a mirrored service lists, or None when its copy does not say (a webhook's)."""
    integrations = raw.get("integrations") if isinstance(raw, dict) else None
    if not isinstance(integrations, list):
        return None
    return {str(i.get("type") or "").removesuffix("_reference") for i in integrations if isinstance(i, dict)}


def event_service_choices(*, viewer: Viewer) -> list[tuple[str, str]]:
    """Services this person may see that take Events API v2 events (or whose copy does not list integrations yet).

    Only their ids and names: the integration key is read from PagerDuty when an event is sent, never shown.
    """
    rows = services_visible_to(viewer=viewer).order_by("name").values_list("pd_id", "name", "raw")
    return [
        (pd_id, name)
        for pd_id, name, raw in rows
        if EVENTS_V2_INTEGRATION in (_integration_kinds(raw) or {EVENTS_V2_INTEGRATION})
    ]


# -- webhook subscriptions ---------------------------------------------------------------------------------------


def portal_webhook_url() -> str:
    """The receiver URL PagerDuty must call for this portal."""
    return settings.PORTAL_URL.rstrip("/") + "/hooks/pagerduty/"


def is_portal_url(url: str) -> bool:
    return (url or "").rstrip("/") == portal_webhook_url().rstrip("/")


def webhook_subscription_list(*, filter_type: str = "", filter_id: str = "") -> QuerySet[WebhookSubscription]:
    qs = WebhookSubscription.objects.all()
    if filter_type:
        qs = qs.filter(filter_type=f"{filter_type}_reference")
        if filter_id and filter_type != "account":
            qs = qs.filter(filter_id=filter_id)
    return qs.order_by("pd_id")


def _delivery_url(url: str) -> str:
    """A delivery URL compared as PagerDuty delivers to it: scheme and host in any case, a trailing slash or not."""
    parts = urlsplit((url or "").strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}?{parts.query}"


def _scopes_overlap(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two subscription filters (kind, id) cover a common incident: the account covers every one."""
    if "account" in (a[0], b[0]):
        return True
    if a[0] == b[0]:
        return a[1] == b[1]
    team_id, service_id = (a[1], b[1]) if a[0] == "team" else (b[1], a[1])
    return Service.objects.filter(pd_id=service_id, teams__pd_id=team_id).exists()


def webhook_duplicate_of(
    *, url: str, events: Collection[str], filter_type: str, filter_id: str = "", excluding: str = ""
) -> WebhookSubscription | None:
    """A subscription that already delivers some of these events for an overlapping scope to the same URL.

    A second one would deliver every such event twice; the portal's own subscription is reported first.
    """
    wanted = _delivery_url(url)
    scope = ((filter_type or "account").removesuffix("_reference"), filter_id or "")
    candidates = WebhookSubscription.objects.exclude(pd_id=excluding).order_by("-created_by_portal", "pd_id")
    for sub in candidates:
        if _delivery_url(sub.url) != wanted or not set(events) & set(sub.events or []):
            continue
        if _scopes_overlap(scope, ((sub.filter_type or "account").removesuffix("_reference"), sub.filter_id or "")):
            return sub
    return None


def webhook_subscription_get(*, pd_id: str) -> WebhookSubscription | None:
    return WebhookSubscription.objects.filter(pd_id=pd_id).first()


def webhook_temporarily_disabled(*, subscription: WebhookSubscription) -> bool:
    """PagerDuty pauses a subscription whose URL keeps failing; Enable resumes it."""
    method = (subscription.raw or {}).get("delivery_method") or {}
    return bool(method.get("temporarily_disabled"))


def webhook_signing_secrets() -> list[str]:
    """Every accepted signing secret: portal-made subscriptions' (decrypted) plus PAGERDUTY_WEBHOOK_SECRETS."""
    secrets: list[str] = []
    for pd_id, ciphertext in (
        WebhookSubscription.objects.filter(created_by_portal=True).exclude(secret="").values_list("pd_id", "secret")
    ):
        try:
            secrets.append(crypto.decrypt(ciphertext))
        except ValueError:
            # A removed encryption key must not break verification of the other subscriptions.
            logger.warning("webhook subscription %s: its secret cannot be decrypted with FIELD_ENCRYPTION_KEYS", pd_id)
    secrets.extend(s for s in settings.PAGERDUTY_WEBHOOK_SECRETS if s)
    return list(dict.fromkeys(secrets))


def webhook_latest_ping(*, subscription: WebhookSubscription) -> WebhookEvent | None:
    """The latest `pagey.ping` received for this subscription (None until one arrives)."""
    return (
        WebhookEvent.objects.filter(event_type=PING_EVENT_TYPE, subscription_id=subscription.pd_id)
        .order_by("-received_at", "-id")
        .first()
    )
