"""Admin pages for services and webhook subscriptions: thin views over selectors and actions."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import admin_required
from pdportal.pagerduty import NotFound, PagerDutyError
from pdportal.webui import confirm_delete, done, paginate, partial, query_without, refusal, save_form

from . import actions, selectors
from .events import INCIDENT_EVENT_TYPES, SERVICE_EVENT_TYPES
from .forms import ServiceFilterForm, ServiceForm, WebhookSubscriptionForm
from .models import Service, WebhookSubscription

# -- services ----------------------------------------------------------------------------------------------------


@admin_required
def service_list(request: HttpRequest) -> HttpResponse:
    filters = ServiceFilterForm(request.GET or None, teams=selectors.team_choices(viewer=request.user))
    values = filters.cleaned_data if filters.is_valid() else {}
    query, name, team_id = values.get("query", ""), values.get("name", ""), values.get("team", "")
    problem = ""
    if not partial(request):
        # The full page asks PagerDuty (List Services); the live fragment re-reads only the mirror.
        try:
            actions.services_refresh(actor=request.user, query=query, name=name, team_id=team_id)
        except PagerDutyError as exc:
            problem = f"Showing the portal's copy: PagerDuty did not answer the list request ({refusal(exc)})."
    # The refresh may have brought new teams: offer them in the filter too.
    filters.fields["team"].choices = [("", "All teams"), *selectors.team_choices(viewer=request.user)]
    page = paginate(request, selectors.service_list(viewer=request.user, query=query, name=name, team_id=team_id))
    context = {
        "filters": filters,
        "page": page,
        "problem": problem,
        "querystring": query_without(request, "page", "partial"),
        "page_query": query_without(request, "partial"),
    }
    if partial(request) == "service-list":
        return render(request, "services/service_list.html#service-list", context)
    return render(request, "services/service_list.html", context)


def _service_or_404(request: HttpRequest, pd_id: str) -> Service:
    service = selectors.service_get(viewer=request.user, pd_id=pd_id)
    if service is None:
        raise Http404("No such service in the portal's copy of PagerDuty.")
    return service


@admin_required
def service_detail(request: HttpRequest, pd_id: str) -> HttpResponse:
    problem = ""
    try:
        actions.service_fetch(actor=request.user, pd_id=pd_id)
    except NotFound:
        raise Http404(f"PagerDuty has no service {pd_id}.") from None
    except PagerDutyError as exc:
        problem = f"Showing the portal's copy: PagerDuty did not answer ({refusal(exc)})."
    service = _service_or_404(request, pd_id)
    raw = service.raw or {}
    policy = raw.get("escalation_policy") or {}
    context = {
        "service": service,
        "raw": raw,
        "policy": policy,
        "integrations": raw.get("integrations") or [],
        "incidents": selectors.service_recent_incidents(viewer=request.user, service=service),
        "open_count": selectors.service_open_counts(viewer=request.user, pd_ids=[pd_id]).get(pd_id, 0),
        "problem": problem,
    }
    return render(request, "services/service_detail.html", context)


def _policies(request: HttpRequest) -> list[tuple[str, str]]:
    if request.method == "GET" or not selectors.escalation_policy_choices(viewer=request.user):
        try:
            actions.escalation_policies_refresh(actor=request.user)
        except PagerDutyError as exc:
            messages.warning(request, f"Could not refresh escalation policies from PagerDuty: {refusal(exc)}")
    return selectors.escalation_policy_choices(viewer=request.user)


@admin_required
@require_http_methods(["GET", "POST"])
def service_create(request: HttpRequest) -> HttpResponse:
    form = ServiceForm(request.POST or None, policies=_policies(request))
    return save_form(
        request,
        form=form,
        template="services/service_form.html",
        context={"service": None},
        save=lambda: actions.service_create(actor=request.user, payload=form.to_payload()),
        success=lambda service: f"Service “{service.name}” created in PagerDuty.",
        then=lambda service: done(request, "services:detail", pd_id=service.pd_id),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def service_edit(request: HttpRequest, pd_id: str) -> HttpResponse:
    service = _service_or_404(request, pd_id)
    initial = ServiceForm.initial_from(service.raw or {})
    form = ServiceForm(request.POST or None, initial=initial, policies=_policies(request))
    return save_form(
        request,
        form=form,
        template="services/service_form.html",
        context={"service": service},
        save=lambda: actions.service_update(actor=request.user, service=service, payload=form.to_payload()),
        success=lambda updated: f"Service “{updated.name}” updated in PagerDuty.",
        then=lambda updated: done(request, "services:detail", pd_id=updated.pd_id),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def service_delete(request: HttpRequest, pd_id: str) -> HttpResponse:
    service = _service_or_404(request, pd_id)
    return confirm_delete(
        request,
        template="services/service_confirm_delete.html",
        context={"service": service},
        delete=lambda: actions.service_delete(actor=request.user, service=service),
        success=f"Service “{service.name}” deleted in PagerDuty.",
        to="services:list",
    )


# -- webhook subscriptions ---------------------------------------------------------------------------------------


def _subscription_or_404(pd_id: str) -> WebhookSubscription:
    subscription = selectors.webhook_subscription_get(pd_id=pd_id)
    if subscription is None:
        raise Http404("No such webhook subscription.")
    return subscription


@admin_required
def webhook_list(request: HttpRequest) -> HttpResponse:
    filter_type = request.GET.get("filter_type", "")
    filter_id = request.GET.get("filter_id", "").strip()
    if filter_type not in ("", "account", "team", "service"):
        filter_type = ""
    problem = ""
    try:
        actions.webhook_subscriptions_refresh(actor=request.user, filter_type=filter_type, filter_id=filter_id)
    except PagerDutyError as exc:
        problem = f"Showing the portal's copy: PagerDuty did not answer ({refusal(exc)})."
    context = {
        "subscriptions": selectors.webhook_subscription_list(filter_type=filter_type, filter_id=filter_id),
        "filter_type": filter_type,
        "filter_id": filter_id,
        "problem": problem,
        "portal_url": selectors.portal_webhook_url(),
        "services": selectors.service_choices(viewer=request.user),
        "teams": selectors.team_choices(viewer=request.user),
    }
    return render(request, "services/webhook_list.html", context)


def _ping_context(subscription: WebhookSubscription) -> dict:
    return {"subscription": subscription, "ping": selectors.webhook_latest_ping(subscription=subscription)}


@admin_required
def webhook_detail(request: HttpRequest, pd_id: str) -> HttpResponse:
    if partial(request) == "webhook-ping":
        return render(request, "services/webhook_detail.html#webhook-ping", _ping_context(_subscription_or_404(pd_id)))
    problem = ""
    try:
        actions.webhook_subscription_fetch(actor=request.user, pd_id=pd_id)
    except NotFound:
        WebhookSubscription.objects.filter(pd_id=pd_id).delete()
        raise Http404(f"PagerDuty has no webhook subscription {pd_id}.") from None
    except PagerDutyError as exc:
        problem = f"Showing the portal's copy: PagerDuty did not answer ({refusal(exc)})."
    subscription = _subscription_or_404(pd_id)
    context = {
        **_ping_context(subscription),
        "problem": problem,
        "is_portal": selectors.is_portal_url(subscription.url),
        "temporarily_disabled": selectors.webhook_temporarily_disabled(subscription=subscription),
        "waiting_for_ping": request.GET.get("pinged") == "1",
    }
    return render(request, "services/webhook_detail.html", context)


def _webhook_form_context(form, **extra) -> dict:
    return {"form": form, "incident_events": INCIDENT_EVENT_TYPES, "service_events": SERVICE_EVENT_TYPES, **extra}


@admin_required
@require_http_methods(["GET", "POST"])
def webhook_create(request: HttpRequest) -> HttpResponse:
    # Nothing pre-filled but the scope asked for: the portal registers its own subscription itself, and a
    # form that opened on its URL with every event made a duplicate (every delivery twice) in one click.
    initial: dict[str, str] = {}
    kind = request.GET.get("filter_type", "")
    if kind in ("service", "team") and request.GET.get("filter_id"):
        initial.update(filter_type=kind, **{f"filter_{kind}": request.GET["filter_id"]})
    form = WebhookSubscriptionForm(
        request.POST or None,
        initial=initial,
        services=selectors.service_choices(viewer=request.user),
        teams=selectors.team_choices(viewer=request.user),
    )
    error = ""
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            created = actions.webhook_subscription_create(
                actor=request.user,
                url=d["url"],
                events=d["events"],
                filter_type=d["filter_type"],
                filter_id=d["filter_id"],
                description=d.get("description") or "",
                active=d.get("active", False),
            )
        except PagerDutyError as exc:
            error = refusal(exc)
        else:
            if created.secret_to_show:
                # Shown once, in this response only: the portal keeps no copy of a secret for someone else's URL.
                response = render(request, "services/webhook_created.html", {"created": created})
                response["Cache-Control"] = "no-store"
                return response
            messages.success(
                request,
                f"Webhook subscription {created.subscription.pd_id} created; its signing secret is stored encrypted "
                "and verifies deliveries to this portal.",
            )
            return done(request, "services:webhook_detail", pd_id=created.subscription.pd_id)
    return render(request, "services/webhook_form.html", _webhook_form_context(form, error=error, subscription=None))


@admin_required
@require_http_methods(["GET", "POST"])
def webhook_edit(request: HttpRequest, pd_id: str) -> HttpResponse:
    subscription = _subscription_or_404(pd_id)
    form = WebhookSubscriptionForm(
        request.POST or None,
        creating=False,
        subscription=subscription,
        initial=WebhookSubscriptionForm.initial_from(subscription),
        services=selectors.service_choices(viewer=request.user),
        teams=selectors.team_choices(viewer=request.user),
    )
    error = ""
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            actions.webhook_subscription_update(
                actor=request.user,
                subscription=subscription,
                events=d["events"],
                filter_type=d["filter_type"],
                filter_id=d["filter_id"],
                description=d.get("description") or "",
                active=d.get("active", False),
            )
        except PagerDutyError as exc:
            error = refusal(exc)
        else:
            messages.success(request, f"Webhook subscription {pd_id} updated in PagerDuty.")
            return done(request, "services:webhook_detail", pd_id=pd_id)
    return render(
        request, "services/webhook_form.html", _webhook_form_context(form, error=error, subscription=subscription)
    )


@admin_required
@require_POST
def webhook_enable(request: HttpRequest, pd_id: str) -> HttpResponse:
    subscription = _subscription_or_404(pd_id)
    try:
        actions.webhook_subscription_enable(actor=request.user, subscription=subscription)
    except PagerDutyError as exc:
        messages.error(request, f"PagerDuty refused to enable {pd_id}: {refusal(exc)}")
    else:
        messages.success(request, f"Webhook subscription {pd_id} enabled.")
    return done(request, "services:webhook_detail", pd_id=pd_id)


@admin_required
@require_POST
def webhook_ping(request: HttpRequest, pd_id: str) -> HttpResponse:
    subscription = _subscription_or_404(pd_id)
    try:
        actions.webhook_subscription_ping(actor=request.user, subscription=subscription)
    except PagerDutyError as exc:
        messages.error(request, f"PagerDuty refused the test ping: {refusal(exc)}")
        return done(request, "services:webhook_detail", pd_id=pd_id)
    messages.success(request, "Test ping sent: PagerDuty will deliver a pagey.ping event to the subscription's URL.")
    return done(request, f"/webhooks/{pd_id}/?pinged=1")


@admin_required
@require_http_methods(["GET", "POST"])
def webhook_delete(request: HttpRequest, pd_id: str) -> HttpResponse:
    subscription = _subscription_or_404(pd_id)
    return confirm_delete(
        request,
        template="services/webhook_confirm_delete.html",
        context={"subscription": subscription},
        delete=lambda: actions.webhook_subscription_delete(actor=request.user, subscription=subscription),
        success=f"Webhook subscription {pd_id} deleted in PagerDuty.",
        to="services:webhook_list",
    )


@admin_required
@require_http_methods(["GET", "POST"])
def webhook_remove_portal(request: HttpRequest) -> HttpResponse:
    mine = WebhookSubscription.objects.filter(created_by_portal=True).order_by("pd_id")
    if request.method == "POST":
        report = actions.webhook_subscriptions_remove_portal(actor=request.user)
        if report.removed:
            messages.success(request, f"Removed {len(report.removed)} subscription(s): {', '.join(report.removed)}.")
        for pd_id, message in report.failed.items():
            messages.error(request, f"PagerDuty refused to delete {pd_id}: {message}")
        if not report.removed and not report.failed:
            messages.info(request, "This portal has created no webhook subscriptions; nothing to remove.")
        return done(request, "services:webhook_list")
    return render(request, "services/webhook_remove_portal.html", {"subscriptions": mine})
