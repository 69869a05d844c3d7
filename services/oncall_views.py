"""On-call pages: on call now, schedules (with the SVG timeline), "take the pager", escalation policies (read-only)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.errors import IdentityError
from accounts.models import PagerDutyUser
from accounts.roles import is_portal_admin, reader_required, responder_required
from accounts.selectors import pd_user_of
from pdportal.models import SyncState
from pdportal.pagerduty import PagerDutyError
from pdportal.webui import done, partial, refusal

from . import oncall_actions as actions
from . import oncall_selectors as selectors
from .models import ScheduleOverride
from .oncall_forms import TakePagerForm
from .oncall_mirror import ONCALL_STATE
from .tasks import schedule_oncall_refresh


def _freshness() -> SyncState | None:
    """The last on-call refresh; a missing or overdue one is asked for (queued, never waited on)."""
    state = SyncState.objects.filter(name=ONCALL_STATE).first()
    interval = timedelta(seconds=settings.CELERY_BEAT_SCHEDULE["refresh-oncalls"]["schedule"])
    if state is None or state.finished_at is None or timezone.now() - state.finished_at > 2 * interval:
        schedule_oncall_refresh()
    return state


@reader_required
def oncall(request: HttpRequest) -> HttpResponse:
    context = {
        "policies": selectors.oncall_now(viewer=request.user),
        "shifts": selectors.my_shifts(viewer=request.user),
        "refreshed": None if partial(request) else _freshness(),
    }
    if partial(request) in ("oncall-now", "my-shifts"):
        return render(request, f"services/oncall.html#{partial(request)}", context)
    return render(request, "services/oncall.html", context)


@reader_required
@require_POST
def oncall_refresh(request: HttpRequest) -> HttpResponse:
    schedule_oncall_refresh()
    messages.info(request, "Asked PagerDuty for the latest on-calls; this page updates by itself when they arrive.")
    return done(request, "services:oncall")


@reader_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    return render(
        request,
        "services/schedule_list.html",
        {"schedules": selectors.schedule_list(viewer=request.user, query=query), "q": query},
    )


def _schedule_or_404(request: HttpRequest, pd_id: str):
    schedule = selectors.schedule_get(viewer=request.user, pd_id=pd_id)
    if schedule is None:
        raise Http404("No such schedule in the portal's copy of PagerDuty (or it belongs to another team).")
    return schedule


def _people() -> list[tuple[str, str]]:
    return list(PagerDutyUser.objects.order_by("name").values_list("pd_id", "name"))


def _schedule_context(request: HttpRequest, schedule, form: TakePagerForm | None = None) -> dict:
    overrides = list(schedule.overrides.all())
    admin = is_portal_admin(request.user)
    return {
        "schedule": schedule,
        "timeline": selectors.schedule_timeline(schedule=schedule, overrides=overrides),
        "oncall_now": selectors.schedule_oncall_now(schedule=schedule),
        "overrides": selectors.overrides_ahead(schedule=schedule),
        "policies": selectors.policies_of_schedule(schedule=schedule, viewer=request.user),
        "me": pd_user_of(request.user),
        "is_admin": admin,
        "form": form or TakePagerForm(people=_people() if admin else None),
    }


@reader_required
def schedule_detail(request: HttpRequest, pd_id: str) -> HttpResponse:
    schedule = _schedule_or_404(request, pd_id)
    context = _schedule_context(request, schedule)
    if partial(request) in ("schedule-timeline", "schedule-overrides"):
        return render(request, f"services/schedule_detail.html#{partial(request)}", context)
    return render(request, "services/schedule_detail.html", context)


@responder_required
@require_POST
def schedule_take(request: HttpRequest, pd_id: str) -> HttpResponse:
    schedule = _schedule_or_404(request, pd_id)
    admin = is_portal_admin(request.user)
    form = TakePagerForm(request.POST, people=_people() if admin else None)
    problem = ""
    if form.is_valid():
        chosen = form.cleaned_data.get("user") or ""
        user = PagerDutyUser.objects.filter(pd_id=chosen).first() if chosen else pd_user_of(request.user)
        if user is None:
            problem = "Your portal login is not linked to a PagerDuty user."
        else:
            try:
                actions.take_pager(
                    actor=request.user,
                    schedule=schedule,
                    user=user,
                    start=form.cleaned_data["start"],
                    end=form.cleaned_data["end"],
                )
            except actions.NotAllowed as exc:
                problem = str(exc)
            except IdentityError as exc:
                problem = str(exc)
            except PagerDutyError as exc:
                problem = f"PagerDuty refused the override: {refusal(exc)}"
            else:
                end = timezone.localtime(form.cleaned_data["end"])
                messages.success(request, f"{user.name} is on call on {schedule.name} until {end:%Y-%m-%d %H:%M}.")
                if request.POST.get("back") == "oncall":
                    return done(request, "services:oncall")
                return done(request, "services:schedule_detail", pd_id)
    context = _schedule_context(request, _schedule_or_404(request, pd_id), form)
    context["problem"] = problem
    return render(request, "services/schedule_detail.html", context, status=400 if not problem else 409)


@responder_required
@require_POST
def override_delete(request: HttpRequest, pd_id: str, override_id: str) -> HttpResponse:
    schedule = _schedule_or_404(request, pd_id)
    override = (
        ScheduleOverride.objects.select_related("schedule", "user").filter(schedule=schedule, pd_id=override_id).first()
    )
    if override is None:
        raise Http404("No such override on this schedule.")
    try:
        actions.override_delete(actor=request.user, override=override)
    except actions.NotAllowed as exc:
        messages.error(request, str(exc))
    except IdentityError as exc:
        messages.error(request, str(exc))
    except PagerDutyError as exc:
        messages.error(request, f"PagerDuty refused: {refusal(exc)}")
    else:
        messages.success(request, "The override is removed.")
    return done(request, "services:schedule_detail", pd_id)


@reader_required
def policy_list(request: HttpRequest) -> HttpResponse:
    context = {"policies": selectors.policy_list(viewer=request.user)}
    if partial(request) == "policy-list":
        return render(request, "services/policy_list.html#policy-list", context)
    return render(request, "services/policy_list.html", context)


@reader_required
def policy_detail(request: HttpRequest, pd_id: str) -> HttpResponse:
    item = selectors.policy_get(viewer=request.user, pd_id=pd_id)
    if item is None:
        raise Http404("No such escalation policy in the portal's copy of PagerDuty (or it belongs to another team).")
    context = {"item": item, "policy": item.policy}
    if partial(request) == "policy-levels":
        return render(request, "services/policy_detail.html#policy-levels", context)
    return render(request, "services/policy_detail.html", context)
