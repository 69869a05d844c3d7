"""Incident pages: thin views over selectors (reads) and actions (writes)."""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.errors import NoAccountConnection, NotLinked
from accounts.roles import reader_required, responder_required
from incidents import actions, exports, forms, selectors
from incidents.models import ChangeEvent, Incident, Priority
from pdportal.pagerduty import PagerDutyError
from pdportal.web import streaming_response
from pdportal.webui import csv_safe, done
from services import selectors as service_selectors

# What a person may see when an action cannot be done: PagerDuty's own refusal, or the portal's reason.
ACTION_ERRORS = (PagerDutyError, actions.ActionRefused, NotLinked, NoAccountConnection)

LIST_PARTIALS = {"incident-table", "incident-counts"}
# The list's tabs: (value of `assigned`, label); "" is every incident the person may see.
TABS = (("me", "Mine"), ("my_teams", "My teams"), ("", "All"))
DETAIL_PARTIALS = {
    "incident-header",
    "incident-state",
    "incident-actions",
    "incident-alerts",
    "incident-notes",
    "incident-timeline",
    "incident-changes",
}


def _partial(request: HttpRequest, allowed: set[str]) -> str | None:
    name = request.GET.get("partial")
    return name if name in allowed else None


def _lazy(compute: Callable[[], Any]) -> Callable[[], Any]:
    """A context value read on first use, once: the template engine calls a callable it finds in the context, so a
    partial re-fetch (the header, the state panel) reads only what that partial shows."""
    return functools.cache(compute)


# -- the list -------------------------------------------------------------------------------------------------------


def _list_context(
    request: HttpRequest, query: QueryDict, *, bulk_result: Any = None, partial: str | None = "incident-table"
) -> dict[str, Any]:
    """What the list shows; `partial` None is the whole page, else only that partial's data is read (a live
    refresh of the counts does not read rows, nor a refresh of the rows the counts)."""
    form = forms.IncidentFilterForm(query)
    counts = page = None
    if form.is_valid():
        filters = form.cleaned_data
        if partial in (None, "incident-counts"):
            counts = selectors.status_counts(filters=filters, user=request.user)
        if partial != "incident-counts":
            # The counts already hold the page's total when only open statuses are asked for: one COUNT, not two.
            page = selectors.incident_page(filters=filters, user=request.user, counts=counts)
    else:
        filters, page = {}, None
    base = query.copy()
    for key in ("page", "sort", "partial"):
        base.pop(key, None)
    asked = selectors.incident_number_asked((filters or {}).get("q"))
    current = (filters or {}).get("sort") or "-created"
    sort_links = {}
    for column in forms.SORTS:
        wanted = f"-{column}" if current == column else column
        sort_links[column] = "?" + "&".join(p for p in (base.urlencode(), urlencode({"sort": wanted})) if p)
    return {
        "sort_links": sort_links,
        "sort_column": current.lstrip("-"),
        "sort_desc": current.startswith("-"),
        "form": form,
        "page": page,
        # The pickers' choices: read only where rendered (the filters and the bulk bar, not the live counts).
        "options": _lazy(lambda: selectors.filter_options(viewer=request.user)),
        "querystring": base.urlencode(),
        "full_query": query.urlencode(),
        "export_query": _export_query(query),
        "sort": (filters or {}).get("sort") or "-created",
        "bulk_actions": forms.BulkForm.base_fields["action"].choices,
        "bulk_result": bulk_result,
        # Read only where rendered (the bulk bar; not the live counts' re-fetch).
        "users": _lazy(lambda: selectors.user_options(viewer=request.user)),
        "levels": [(level, f"Level {level}") for level in range(1, 6)],
        "counts": counts,
        "href_counts": _status_links(query),
        "tabs": _tab_links(query, current=(filters or {}).get("assigned") or ""),
        "jump_missing": asked if asked is not None and page is not None and not page.count else None,
        "saved_views": selectors.saved_views_of(owner=request.user) if partial is None else [],
        "snooze_presets": forms.SNOOZE_PRESETS,
    }


def _without(query: QueryDict, *keys: str) -> QueryDict:
    kept = query.copy()
    for key in ("page", "partial", *keys):
        kept.pop(key, None)
    return kept


def _tab_links(query: QueryDict, *, current: str) -> list[tuple[str, str, bool]]:
    """(href, label, is_current) per tab: the same filters on another tab, from its first page."""
    base = _without(query, "assigned")
    links = []
    for value, label in TABS:
        tab = base.copy()
        if value:
            tab["assigned"] = value
        links.append((f"?{tab.urlencode()}" if tab else reverse("incidents:list"), label, value == current))
    return links


def _status_links(query: QueryDict) -> dict[str, str]:
    """Each count links to the same list narrowed to that status."""
    base = _without(query, "status")
    links = {}
    for status in forms.OPEN_STATUSES:
        narrowed = base.copy()
        narrowed["status"] = status
        links[status] = f"?{narrowed.urlencode()}"
    return links


def _export_query(query: QueryDict) -> str:
    """The list's filters and sort for its export links: every page, so no page or page size."""
    kept = query.copy()
    for key in ("page", "per_page", "partial"):
        kept.pop(key, None)
    return kept.urlencode()


@reader_required
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    partial = _partial(request, LIST_PARTIALS)
    asked = selectors.incident_number_asked(request.GET.get("q"))
    if asked is not None and not partial and not request.htmx:
        # "#185" opens #185 when this person may see it (whatever its status); else the list says there is none.
        found = selectors.find_incident(viewer=request.user, ref=str(asked))
        if found is not None:
            return redirect("incidents:detail", pd_id=found.pd_id)
    context = _list_context(request, request.GET, partial=partial)
    template = f"incidents/incident_list.html#{partial}" if partial else "incidents/incident_list.html"
    return render(request, template, context)


@responder_required
@require_POST
def incident_bulk(request: HttpRequest) -> HttpResponse:
    form = forms.BulkForm(request.POST)
    query = QueryDict(request.POST.get("query", ""), mutable=False)
    result = None
    error = None
    pending = None
    if form.is_valid():
        data = form.cleaned_data
        ids: list[str] | None = list(data["ids"])
        if data.get("select_all"):
            filter_form = forms.IncidentFilterForm(query)
            if filter_form.is_valid():
                ids = selectors.incident_ids_matching(filters=filter_form.cleaned_data, user=request.user)
            else:
                # Never widen a broken filter to "everything": refuse, and send nothing to PagerDuty.
                ids = None
                error = f"Nothing was changed: the list's filters are not valid ({_field_errors(filter_form)})."
        if ids is not None and form.needs_confirmation():
            # Nothing is sent yet: the person is asked, with the same request ready to post again with a yes.
            pending = _bulk_question(request, data, count=len(ids))
        elif ids is not None:
            try:
                result = actions.incidents_bulk(
                    actor=request.user, incident_ids=ids, action=data["action"], params=data
                )
            except ACTION_ERRORS as exc:
                error = str(exc)
    else:
        error = " ".join(e for errs in form.errors.values() for e in errs)
    if request.htmx or pending is not None:
        context = _list_context(request, query, bulk_result=result)
        context["bulk_error"] = error
        context["bulk_pending"] = pending
        # A successful action clears the selection; otherwise what still needs doing stays ticked for a retry.
        if error or pending:
            context["keep_selected"] = set(request.POST.getlist("ids"))
        elif result is not None and not result.ok:
            context["keep_selected"] = set(result.failed)
        if not request.htmx:
            return render(request, "incidents/incident_list.html", context)
        context["oob"] = True
        return render(request, "incidents/incident_list.html#bulk-response", context)
    if result is not None:
        text = f"{_bulk_label(result)}: {result.summary()}"
        if result.refused:
            shown = result.refused[:BULK_REFUSALS_SHOWN]
            text += " — " + "; ".join(f"{label}: {message}" for _, label, message in shown)
            if len(result.refused) > len(shown):
                text += f"; and {len(result.refused) - len(shown)} more"
        (messages.success if result.ok else messages.warning)(request, text)
    if error:
        messages.error(request, error)
    return redirect(f"{reverse('incidents:list')}?{query.urlencode()}" if query else reverse("incidents:list"))


@reader_required
@require_POST
def saved_view_save(request: HttpRequest) -> HttpResponse:
    """Save the list's current filters under a name, then show that view (its URL is the view)."""
    form = forms.SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The view was not saved: {_form_errors(form)}")
        return redirect(_list_url(forms.filter_query(request.POST.get("query", ""))))
    view = actions.saved_view_save(owner=request.user, name=form.cleaned_data["name"], query=form.cleaned_data["query"])
    messages.success(request, f"Saved the view “{view.name}”. Its address opens it: share it as a link.")
    return redirect(view.url)


@reader_required
@require_POST
def saved_view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    """Delete one of the person's own views; someone else's answers 404 like a missing one."""
    if not actions.saved_view_delete(owner=request.user, view_id=view_id):
        raise Http404("No saved view of yours with this id")
    messages.success(request, "View deleted.")
    return redirect(_list_url(forms.filter_query(request.POST.get("next_query", ""))))


def _list_url(query: str) -> str:
    """The list with these (already filtered) parameters: never another site, whatever was posted."""
    return f"{reverse('incidents:list')}?{query}" if query else reverse("incidents:list")


def _bulk_question(request: HttpRequest, data: dict[str, Any], *, count: int) -> dict[str, Any]:
    """What the confirmation asks ("Resolve all 12 matching incidents?") and the fields to post again with a yes."""
    verb = dict(forms.BULK_ACTIONS).get(data["action"], data["action"])
    noun = "incident" if count == 1 else "incidents"
    question = f"{verb} all {count} matching {noun}?" if data.get("select_all") else f"{verb} {count} {noun}?"
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", "confirmed")
        for value in values
    ]
    return {"question": question, "count": count, "fields": fields, "action": data["action"]}


EXPORTS = {
    "csv": (exports.incidents_csv, "text/csv; charset=utf-8"),
    "json": (exports.incidents_json, "application/json"),
}


@reader_required
@require_GET
def incident_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The list under its filters (every page) as CSV or JSON, streamed; invalid filters are a 400 in words."""
    write, content_type = EXPORTS[fmt]
    form = forms.IncidentFilterForm(request.GET)
    if not form.is_valid():
        message = f"Nothing exported: the list's filters are not valid ({_field_errors(form)}).\n"
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    return streaming_response(
        request,
        write(filters=form.cleaned_data, user=request.user),
        content_type=content_type,
        filename=f"incidents.{fmt}",
    )


# A plain POST reports through a flash message: name this many refused incidents there (htmx lists them all).
BULK_REFUSALS_SHOWN = 20


def _bulk_label(result: actions.BulkResult) -> str:
    return dict(forms.BULK_ACTIONS).get(result.action, result.action)


def _field_errors(form: Any) -> str:
    return "; ".join(
        f"{form[name].label if name in form.fields else 'filters'}: {' '.join(errors)}"
        for name, errors in form.errors.items()
    )


# -- one incident ----------------------------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, incident: Incident, **extra: Any) -> dict[str, Any]:
    viewer = request.user
    options = _lazy(lambda: selectors.filter_options(viewer=viewer))
    users = _lazy(lambda: selectors.user_options(viewer=viewer))
    context: dict[str, Any] = {
        "incident": incident,
        "alerts": _lazy(lambda: selectors.incident_alerts(incident=incident)),
        "notes": _lazy(lambda: selectors.incident_notes(incident=incident)),
        "timeline": _lazy(lambda: selectors.incident_timeline(incident=incident)),
        "changes": _lazy(lambda: selectors.related_change_events(viewer=viewer, incident=incident)),
        "merged_into": _lazy(lambda: selectors.merged_into(viewer=viewer, incident=incident)),
        "levels": _lazy(lambda: selectors.escalation_levels(incident=incident)),
        "state": _lazy(lambda: selectors.incident_state(incident=incident)),
        "options": options,
        "users": users,
        "note_form": _lazy(forms.NoteForm),
        "resolve_form": _lazy(forms.ResolveForm),
        "snooze_form": _lazy(forms.SnoozeForm),
        "snooze_presets": forms.SNOOZE_PRESETS,
        "reassign_form": _lazy(lambda: forms.ReassignForm(users=users(), policies=options()["escalation_policies"])),
        "escalate_form": _lazy(forms.EscalateForm),
        "fields_form": _lazy(
            lambda: forms.UpdateFieldsForm(
                initial={"title": incident.title}, priorities=options()["priorities"], services=options()["services"]
            )
        ),
        "merge_form": _lazy(forms.MergeForm),
        "responder_form": _lazy(lambda: forms.ResponderForm(users=users(), policies=options()["escalation_policies"])),
        "status_form": _lazy(lambda: forms.StatusUpdateForm(templates=selectors.template_options())),
        "alerts_form": _lazy(forms.AlertsForm),
        "action_error": None,
        "action_message": None,
        "preview": None,
    }
    context.update(extra)
    return context


@reader_required
@require_GET
def incident_detail(request: HttpRequest, pd_id: str) -> HttpResponse:
    incident = selectors.get_incident(viewer=request.user, pd_id=pd_id)
    context = _detail_context(request, incident)
    partial = _partial(request, DETAIL_PARTIALS)
    template = f"incidents/incident_detail.html#{partial}" if partial else "incidents/incident_detail.html"
    return render(request, template, context)


@reader_required
@require_GET
def incident_policy(request: HttpRequest, pd_id: str) -> HttpResponse:
    """The incident's escalation policy, for everyone who may act on the incident (observers: when visible)."""
    incident = selectors.get_incident(viewer=request.user, pd_id=pd_id)
    item = selectors.incident_policy(viewer=request.user, incident=incident)
    if item is None:
        raise Http404("This incident has no escalation policy you may read.")
    context = {
        "item": item,
        "policy": item.policy,
        "levels_url": reverse("incidents:policy", args=[incident.pd_id]),
        "incident": incident,
    }
    if request.GET.get("partial") == "policy-levels":
        return render(request, "services/policy_detail.html#policy-levels", context)
    return render(request, "services/policy_detail.html", context)


# Which partials each action can change (htmx swaps only these), and where its form lives (re-shown on errors).
HEADER_TIMELINE = ("incident-header", "incident-state", "incident-timeline")
CHANGED_BY = {
    "acknowledge": HEADER_TIMELINE,
    "resolve": (*HEADER_TIMELINE, "incident-alerts"),
    "retrigger": HEADER_TIMELINE,
    "reassign": (*HEADER_TIMELINE, "incident-actions"),
    "escalate": (*HEADER_TIMELINE, "incident-actions"),
    "snooze": HEADER_TIMELINE,
    "merge": (*HEADER_TIMELINE, "incident-alerts", "incident-actions"),
    "update": (*HEADER_TIMELINE, "incident-actions"),
    "note": ("incident-notes", "incident-timeline"),
    "responders": (*HEADER_TIMELINE, "incident-actions"),
    "status-update": ("incident-actions", "incident-timeline"),
    "alerts": (*HEADER_TIMELINE, "incident-alerts"),
}
FORM_PARTIAL = {
    "note": "incident-notes",
    "resolve": "incident-header",
    "snooze": "incident-header",
    "alerts": "incident-alerts",
}


def _respond(
    request: HttpRequest,
    incident: Incident,
    *,
    error: str | None = None,
    message: str | None = None,
    bound: dict[str, Any] | None = None,
    preview: dict[str, str] | None = None,
    stale: bool = False,
) -> HttpResponse:
    """htmx: the changed partials, swapped out-of-band. Plain POST: redirect back (or re-render on bad input).

    `stale`: the page showed an older status than PagerDuty's; every partial is re-sent so it shows the current one.
    """
    incident = selectors.get_incident(viewer=request.user, pd_id=incident.pd_id)
    if request.htmx:
        action = getattr(request, "incident_action", "")
        if stale:
            changed = {"incident-result", *DETAIL_PARTIALS}
        elif error or preview:
            changed = {"incident-result", FORM_PARTIAL.get(action, "incident-actions")}
        else:
            changed = {"incident-result", *CHANGED_BY.get(action, DETAIL_PARTIALS)}
        context = _detail_context(
            request,
            incident,
            action_error=error,
            action_message=message,
            preview=preview,
            oob=True,
            changed=changed,
            **(bound or {}),
        )
        return render(request, "incidents/incident_detail.html#incident-swap", context)
    if bound or preview:
        context = _detail_context(
            request, incident, action_error=error, action_message=message, preview=preview, **(bound or {})
        )
        return render(request, "incidents/incident_detail.html", context)
    if error:
        messages.error(request, error)
    elif message:
        messages.success(request, message)
    return redirect("incidents:detail", pd_id=incident.pd_id)


def _form_errors(form: Any) -> str:
    return " ".join(str(e) for errs in form.errors.values() for e in errs)


ActionHandler = Callable[[HttpRequest, Incident], HttpResponse]


def _run(
    request: HttpRequest,
    incident: Incident,
    *,
    form: Any = None,
    form_name: str | None = None,
    do: Callable[[dict[str, Any]], Any],
    done: str,
) -> HttpResponse:
    """Validate (if a form is given), perform, and answer; invalid input never reaches PagerDuty."""
    data: dict[str, Any] = {}
    if form is not None:
        if not form.is_valid():
            return _respond(request, incident, error=_form_errors(form), bound={form_name: form} if form_name else None)
        data = form.cleaned_data
    try:
        do(data)
    except ACTION_ERRORS as exc:
        return _respond(request, incident, error=str(exc), bound={form_name: form} if form_name else None)
    return _respond(request, incident, message=done)


def _acknowledge(request, incident):
    return _run(
        request,
        incident,
        do=lambda d: actions.incident_acknowledge(actor=request.user, incident=incident),
        done="Acknowledged.",
    )


def _resolve(request, incident):
    return _run(
        request,
        incident,
        form=forms.ResolveForm(request.POST),
        form_name="resolve_form",
        do=lambda d: actions.incident_resolve(actor=request.user, incident=incident, resolution=d["resolution"]),
        done="Resolved.",
    )


def _retrigger(request, incident):
    return _run(
        request,
        incident,
        do=lambda d: actions.incident_retrigger(actor=request.user, incident=incident),
        done="Re-triggered.",
    )


def _reassign(request, incident):
    options = selectors.filter_options(viewer=request.user)
    users = selectors.user_options(viewer=request.user)
    form = forms.ReassignForm(request.POST, users=users, policies=options["escalation_policies"])
    return _run(
        request,
        incident,
        form=form,
        form_name="reassign_form",
        do=lambda d: actions.incident_reassign(
            actor=request.user,
            incident=incident,
            user_ids=d["users"],
            escalation_policy_id=d["escalation_policy"] or None,
        ),
        done="Reassigned.",
    )


def _escalate(request, incident):
    return _run(
        request,
        incident,
        form=forms.EscalateForm(request.POST),
        form_name="escalate_form",
        do=lambda d: actions.incident_escalate(actor=request.user, incident=incident, level=d["level"]),
        done="Escalated.",
    )


def _snooze(request, incident):
    return _run(
        request,
        incident,
        form=forms.SnoozeForm(request.POST),
        form_name="snooze_form",
        do=lambda d: actions.incident_snooze(actor=request.user, incident=incident, seconds=d["seconds"]),
        done="Snoozed.",
    )


def _merge(request, incident):
    return _run(
        request,
        incident,
        form=forms.MergeForm(request.POST),
        form_name="merge_form",
        do=lambda d: actions.incident_merge(actor=request.user, incident=incident, sources=d["sources"]),
        done="Merged.",
    )


def _update_fields(request, incident):
    options = selectors.filter_options(viewer=request.user)
    form = forms.UpdateFieldsForm(request.POST, priorities=options["priorities"], services=options["services"])
    return _run(
        request,
        incident,
        form=form,
        form_name="fields_form",
        do=lambda d: actions.incident_set_fields(
            actor=request.user,
            incident=incident,
            title=d["title"] if d["title"] != incident.title else None,
            priority_id=d["priority"] or None,
            urgency=d["urgency"] or None,
            service_id=d["service"] or None,
        ),
        done="Updated.",
    )


def _note(request, incident):
    return _run(
        request,
        incident,
        form=forms.NoteForm(request.POST),
        form_name="note_form",
        do=lambda d: actions.note_create(actor=request.user, incident=incident, content=d["content"]),
        done="Note added.",
    )


def _responders(request, incident):
    options = selectors.filter_options(viewer=request.user)
    users = selectors.user_options(viewer=request.user)
    form = forms.ResponderForm(request.POST, users=users, policies=options["escalation_policies"])
    return _run(
        request,
        incident,
        form=form,
        form_name="responder_form",
        do=lambda d: actions.responders_request(
            actor=request.user,
            incident=incident,
            user_ids=d["users"],
            policy_ids=d["escalation_policies"],
            message=d["message"],
        ),
        done="Responders requested.",
    )


def _status_update(request, incident):
    form = forms.StatusUpdateForm(request.POST, templates=selectors.template_options())
    if not form.is_valid():
        return _respond(request, incident, error=_form_errors(form), bound={"status_form": form})
    data = form.cleaned_data
    try:
        if request.POST.get("preview") or not data["message"].strip():
            # Preview: PagerDuty renders the template for this incident; nothing is published yet.
            rendered = actions.template_render(
                actor=request.user, template_id=data["template"], incident=incident, message=data["message"] or None
            )
            initial = {
                "template": data["template"],
                "message": rendered.get("message", ""),
                "subject": rendered.get("email_subject", "") if data["subject"] else "",
                "html_message": rendered.get("email_body", "") if data["subject"] else "",
            }
            bound = forms.StatusUpdateForm(initial=initial, templates=selectors.template_options())
            return _respond(request, incident, bound={"status_form": bound}, preview=rendered)
        actions.status_update_publish(
            actor=request.user,
            incident=incident,
            message=data["message"],
            subject=data["subject"] or None,
            html_message=data["html_message"] or None,
        )
    except ACTION_ERRORS as exc:
        return _respond(request, incident, error=str(exc), bound={"status_form": form})
    return _respond(request, incident, message="Status update published.")


def _alerts(request, incident):
    form = forms.AlertsForm(request.POST)
    if not form.is_valid():
        return _respond(request, incident, error=_form_errors(form) or "Select at least one alert.")
    data = form.cleaned_data
    op = request.POST.get("op", "resolve")
    try:
        if op == "move":
            target = selectors.find_incident(viewer=request.user, ref=data["target"] or "")
            if target is None:
                raise actions.ActionRefused(
                    "Enter the id or number of an incident in the mirror to move the alerts to."
                )
            actions.alerts_manage(actor=request.user, incident=incident, alert_ids=data["alerts"], target=target)
            done = f"Moved {len(data['alerts'])} alert(s) to #{target.number}."
        elif len(data["alerts"]) == 1:
            actions.alert_resolve(actor=request.user, incident=incident, alert_id=data["alerts"][0])
            done = "Alert resolved."
        else:
            actions.alerts_manage(actor=request.user, incident=incident, alert_ids=data["alerts"], resolve=True)
            done = f"Resolved {len(data['alerts'])} alerts."
    except ACTION_ERRORS as exc:
        return _respond(request, incident, error=str(exc))
    return _respond(request, incident, message=done)


ACTIONS: dict[str, ActionHandler] = {
    "acknowledge": _acknowledge,
    "resolve": _resolve,
    "retrigger": _retrigger,
    "reassign": _reassign,
    "escalate": _escalate,
    "snooze": _snooze,
    "merge": _merge,
    "update": _update_fields,
    "note": _note,
    "responders": _responders,
    "status-update": _status_update,
    "alerts": _alerts,
}


@responder_required
@require_POST
def incident_action(request: HttpRequest, pd_id: str, action: str) -> HttpResponse:
    incident = selectors.get_incident(viewer=request.user, pd_id=pd_id)
    handler = ACTIONS.get(action)
    request.incident_action = action  # type: ignore[attr-defined]
    if handler is None:
        raise Http404("Unknown incident action")
    try:
        # The page says which status it showed: PagerDuty's current one decides whether the action still applies.
        actions.incident_check_status(
            actor=request.user, incident=incident, action=action, expected=request.POST.get("expected_status", "")
        )
    except ACTION_ERRORS as exc:
        error, bound = _refused_unsent(request, action=action, reason=str(exc))
        return _respond(request, incident, error=error, bound=bound, stale=True)
    return handler(request, incident)


# How much of an unsent resolution note a refusal quotes back (the box keeps all of it while it is shown).
UNSENT_QUOTED = 300


def _refused_unsent(request: HttpRequest, *, action: str, reason: str) -> tuple[str, dict[str, Any] | None]:
    """A refusal before anything was sent keeps what the person typed: the resolution note stays in its box (while
    the incident can still be resolved) and the message quotes it, since a resolved incident shows no box."""
    if action != "resolve":
        return reason, None
    form = forms.ResolveForm(request.POST)
    unsent = (request.POST.get("resolution") or "").strip()
    if unsent:
        quoted = unsent if len(unsent) <= UNSENT_QUOTED else unsent[:UNSENT_QUOTED] + "…"
        reason = f"{reason} Your resolution note was not sent: “{quoted}”"
    return reason, {"resolve_form": form}


@reader_required
@require_GET
def incident_summary(request: HttpRequest, pd_id: str) -> JsonResponse:
    """What a desktop notification says about one incident (the live bus carries ids only, never words)."""
    incident = selectors.get_incident(viewer=request.user, pd_id=pd_id)
    return JsonResponse(
        {
            "id": incident.pd_id,
            "number": incident.number,
            "title": incident.title,
            "status": incident.status,
            "urgency": incident.urgency,
            "service": incident.service.name if incident.service else "",
            "url": reverse("incidents:detail", args=[incident.pd_id]),
        }
    )


@reader_required
@require_GET
def incident_alerts_csv(request: HttpRequest, pd_id: str) -> HttpResponse:
    incident = selectors.get_incident(viewer=request.user, pd_id=pd_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="incident-{incident.number}-alerts.csv"'
    writer = csv.writer(response)
    writer.writerow(["id", "created_at", "status", "severity", "summary", "alert_key", "service", "details"])
    for alert in selectors.incident_alerts(incident=incident):
        details = alert.body.get("details") if isinstance(alert.body, dict) else None
        writer.writerow(
            [
                csv_safe(alert.pd_id),
                alert.created_at.isoformat(),
                csv_safe(alert.status),
                csv_safe(alert.severity),
                csv_safe(alert.summary),
                csv_safe(alert.alert_key),
                csv_safe(alert.service.name if alert.service else ""),
                csv_safe(json.dumps(details, sort_keys=True) if details is not None else ""),
            ]
        )
    return response


# -- creating things and account-wide pages -------------------------------------------------------------------------


@responder_required
@require_http_methods(["GET", "POST"])
def incident_new(request: HttpRequest) -> HttpResponse:
    options = selectors.filter_options(viewer=request.user)
    kwargs = {
        "services": options["services"],
        "priorities": options["priorities"],
        "users": selectors.user_options(viewer=request.user),
        "policies": options["escalation_policies"],
    }
    error = None
    if request.method == "POST":
        form = forms.NewIncidentForm(request.POST, **kwargs)
        if form.is_valid():
            d = form.cleaned_data
            try:
                incident = actions.incident_create(
                    actor=request.user,
                    title=d["title"],
                    service_id=d["service"],
                    urgency=d["urgency"],
                    priority_id=d["priority"],
                    details=d["details"],
                    assignee_ids=d["assignees"],
                    escalation_policy_id=d["escalation_policy"],
                    incident_key=d["incident_key"],
                )
            except ACTION_ERRORS as exc:
                error = str(exc)
            else:
                messages.success(request, f"Incident #{incident.number} created.")
                return done(request, "incidents:detail", pd_id=incident.pd_id)
    else:
        form = forms.NewIncidentForm(**kwargs)
    template = "incidents/incident_new.html#incident-new-form" if request.htmx else "incidents/incident_new.html"
    return render(request, template, {"form": form, "error": error})


# The wait for an event's incident: a bounded poll of the portal's own mirror (never of PagerDuty), which the
# webhook (or the log reconcile) fills; after this many one-second tries the page says it has not appeared.
EVENT_WAIT_ATTEMPTS = 30


def _event_wait_url(*, service_id: str, dedup_key: str, attempt: int) -> str:
    query = urlencode({"service": service_id, "dedup_key": dedup_key, "attempt": attempt})
    return f"{reverse('incidents:event_incident')}?{query}"


@responder_required
@require_http_methods(["GET", "POST"])
def event_send(request: HttpRequest) -> HttpResponse:
    result = error = service = None
    services = service_selectors.event_service_choices(viewer=request.user)
    if request.method == "POST":
        form = forms.SendEventForm(request.POST, services=services)
        if form.is_valid():
            chosen = form.cleaned_data.get("service")
            service = service_selectors.service_get(viewer=request.user, pd_id=chosen) if chosen else None
            try:
                result = actions.event_send(actor=request.user, data=form.cleaned_data, service=service)
            except ACTION_ERRORS as exc:
                error = _pd_message(exc)
    else:
        form = forms.SendEventForm(initial={"event_action": "trigger", "severity": "error"}, services=services)
    context: dict[str, Any] = {"form": form, "result": result, "error": error, "service": service}
    if result and result.get("dedup_key"):
        context["wait_url"] = _event_wait_url(
            service_id=service.pd_id if service else "", dedup_key=str(result["dedup_key"]), attempt=1
        )
    template = "incidents/event_send.html#event-form" if request.htmx else "incidents/event_send.html"
    return render(request, template, context)


@responder_required
@require_GET
def event_incident(request: HttpRequest) -> HttpResponse:
    """The incident a sent event opened, once the mirror has it; otherwise "still waiting", then "not appeared"."""
    dedup_key, service_id = request.GET.get("dedup_key", "")[:255], request.GET.get("service", "")[:64]
    try:
        attempt = max(int(request.GET.get("attempt", "1")), 1)
    except ValueError:
        attempt = 1
    incident = selectors.incident_for_event(viewer=request.user, dedup_key=dedup_key, service_id=service_id)
    waiting = incident is None and attempt < EVENT_WAIT_ATTEMPTS
    context = {
        "incident": incident,
        "dedup_key": dedup_key,
        "service_id": service_id,
        "waiting": waiting,
        "waited": min(attempt, EVENT_WAIT_ATTEMPTS),
        "max_wait": EVENT_WAIT_ATTEMPTS,
        "next_url": _event_wait_url(service_id=service_id, dedup_key=dedup_key, attempt=attempt + 1),
    }
    return render(request, "incidents/event_send.html#event-incident", context)


def _pd_message(exc: Exception) -> str:
    text = str(exc)
    extra = getattr(exc, "errors", None) or []
    details = "; ".join(str(e) for e in extra if str(e) not in text)
    return f"{text}: {details}" if details else text


@reader_required
@require_GET
def change_event_list(request: HttpRequest) -> HttpResponse:
    """List Change Events, read from PagerDuty with the person's identity (and kept in the mirror), 100 a page."""
    query = request.GET.copy()
    query.pop("partial", None)
    options = selectors.filter_options(viewer=request.user)
    form = forms.ChangeEventFilterForm(query or None, teams=options["teams"])
    listing = None
    error = None
    if not query or form.is_valid():
        filters = form.cleaned_data if query else {}
        try:
            listing = actions.change_events_fetch(actor=request.user, filters=filters)
        except ACTION_ERRORS as exc:
            error = str(exc)
    base = query.copy()
    base.pop("page", None)
    partial = _partial(request, {"change-event-list"})
    template = f"incidents/change_event_list.html#{partial}" if partial else "incidents/change_event_list.html"
    context = {
        "form": form,
        "listing": listing,
        "events": listing.events if listing is not None else [],
        "error": error,
        "querystring": query.urlencode(),
        "base_querystring": base.urlencode(),
    }
    return render(request, template, context)


@reader_required
@require_GET
def change_event_detail(request: HttpRequest, pd_id: str) -> HttpResponse:
    error = None
    try:
        actions.change_event_fetch(actor=request.user, pd_id=pd_id)
    except PagerDutyError as exc:
        if exc.status == 404:
            raise Http404("No such change event") from None
        # PagerDuty is unreachable or refuses: show the mirrored copy if there is one, and say why.
        error = str(exc)
    except (NotLinked, NoAccountConnection) as exc:
        error = str(exc)
    # Read back through the person's scope: a change event on a service they may not see is a 404.
    event = selectors.change_events_visible_to(viewer=request.user).filter(pd_id=pd_id).first()
    if event is None and (error is None or ChangeEvent.objects.filter(pd_id=pd_id).exists()):
        raise Http404("No such change event")
    status = 200 if event is not None else 502
    return render(request, "incidents/change_event_detail.html", {"event": event, "error": error}, status=status)


CHANGE_EVENT_FORM = "incidents/change_event_form.html"


def _change_event_form(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The whole page, or (htmx) only the form's partial, errors and result included."""
    template = f"{CHANGE_EVENT_FORM}#change-event-form" if request.htmx else CHANGE_EVENT_FORM
    return render(request, template, {"event": None, "result": None, "error": None, **context})


@responder_required
@require_http_methods(["GET", "POST"])
def change_event_edit(request: HttpRequest, pd_id: str) -> HttpResponse:
    event = selectors.change_events_visible_to(viewer=request.user).filter(pd_id=pd_id).first()
    if event is None:
        raise Http404("No such change event in the mirror")
    error = None
    if request.method == "POST":
        form = forms.ChangeEventEditForm(request.POST)
        if form.is_valid():
            try:
                actions.change_event_update(actor=request.user, event=event, data=form.cleaned_data)
            except ACTION_ERRORS as exc:
                error = _pd_message(exc)
            else:
                messages.success(request, "Change event updated.")
                return done(request, "incidents:change_event_detail", pd_id=pd_id)
    else:
        form = forms.ChangeEventEditForm(
            initial={"summary": event.summary, "custom_details": json.dumps(event.custom_details or {}, indent=2)}
        )
    return _change_event_form(request, {"form": form, "event": event, "error": error})


@responder_required
@require_http_methods(["GET", "POST"])
def change_event_send(request: HttpRequest) -> HttpResponse:
    result = error = None
    if request.method == "POST":
        form = forms.ChangeEventSendForm(request.POST)
        if form.is_valid():
            try:
                result = actions.change_event_send(actor=request.user, data=form.cleaned_data)
            except ACTION_ERRORS as exc:
                error = _pd_message(exc)
    else:
        form = forms.ChangeEventSendForm()
    return _change_event_form(request, {"form": form, "result": result, "error": error})


@reader_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """List Notifications, read live from PagerDuty (they are not mirrored)."""
    if "since" in request.GET or "until" in request.GET:
        query = request.GET
    else:
        query = QueryDict(urlencode(forms.NotificationFilterForm.default_range()))
    form = forms.NotificationFilterForm(query)
    notifications: list[dict[str, Any]] = []
    error = None
    if form.is_valid():
        try:
            notifications = actions.notifications_fetch(actor=request.user, filters=form.cleaned_data)
        except ACTION_ERRORS as exc:
            error = str(exc)
    return render(
        request, "incidents/notification_list.html", {"form": form, "notifications": notifications, "error": error}
    )


@reader_required
@require_GET
def priority_list(request: HttpRequest) -> HttpResponse:
    """List Priorities from PagerDuty (refreshing the mirror every picker reads); the mirror if PagerDuty fails."""
    error = None
    try:
        actions.priorities_fetch(actor=request.user)
    except ACTION_ERRORS as exc:
        error = str(exc)
    priorities = list(Priority.objects.order_by("-order", "name"))
    return render(request, "incidents/priority_list.html", {"priorities": priorities, "error": error})
