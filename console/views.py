"""Admin console pages: users, status-update templates, the raw API console and the audit log (admins only)."""

from __future__ import annotations

import csv

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.models import PagerDutyUser
from accounts.roles import admin_required
from pdportal.pagerduty import NotFound, PagerDutyError
from pdportal.webui import confirm_delete, csv_safe, done, paginate, partial, query_without, refusal, save_form
from services.selectors import team_choices

from . import actions, selectors
from .forms import (
    ApiConsoleForm,
    AuditFilterForm,
    TemplateFilterForm,
    TemplateForm,
    TemplatePreviewForm,
    UserFilterForm,
    UserForm,
)

# -- users -------------------------------------------------------------------------------------------------------


@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    filters = UserFilterForm(request.GET or None, teams=team_choices(viewer=request.user))
    values = filters.cleaned_data if filters.is_valid() else {}
    query, team_id = values.get("query", ""), values.get("team", "")
    problem = ""
    if not partial(request):
        try:
            actions.users_refresh(actor=request.user, query=query, team_id=team_id)
        except PagerDutyError as exc:
            problem = f"Showing the portal's copy: PagerDuty did not answer the list request ({refusal(exc)})."
    # The refresh may have brought new teams: offer them in the filter too.
    filters.fields["team"].choices = [("", "All teams"), *team_choices(viewer=request.user)]
    context = {
        "filters": filters,
        "page": paginate(request, selectors.user_list(viewer=request.user, query=query, team_id=team_id)),
        "problem": problem,
        "querystring": query_without(request, "page", "partial"),
        "live_query": query_without(request, "partial"),
    }
    if partial(request) == "user-list":
        return render(request, "console/user_list.html#user-list", context)
    return render(request, "console/user_list.html", context)


def _user_or_404(request: HttpRequest, pd_id: str) -> PagerDutyUser:
    user = selectors.user_get(viewer=request.user, pd_id=pd_id)
    if user is None:
        raise Http404("No such user in the portal's copy of PagerDuty.")
    return user


def _rules(rules) -> list[dict]:
    """Notification rules for display: urgency, delay and the contact method's name (reference or object)."""
    out = []
    for rule in rules or []:
        if not isinstance(rule, dict):
            continue
        method = rule.get("contact_method") or {}
        out.append(
            {
                "urgency": rule.get("urgency") or "—",
                "delay": rule.get("start_delay_in_minutes") or 0,
                "contact": method.get("label") or method.get("summary") or method.get("id") or rule.get("summary", ""),
            }
        )
    return out


@admin_required
def user_detail(request: HttpRequest, pd_id: str) -> HttpResponse:
    problem = ""
    try:
        actions.user_fetch(actor=request.user, pd_id=pd_id)
    except NotFound:
        raise Http404(f"PagerDuty has no user {pd_id}.") from None
    except PagerDutyError as exc:
        problem = f"Showing the portal's copy: PagerDuty did not answer ({refusal(exc)})."
    pd_user = _user_or_404(request, pd_id)
    raw = pd_user.raw or {}
    context = {
        "pd_user": pd_user,
        "raw": raw,
        "contact_methods": [c for c in raw.get("contact_methods") or [] if isinstance(c, dict)],
        "notification_rules": _rules(raw.get("notification_rules")),
        "teams": [t for t in raw.get("teams") or [] if isinstance(t, dict)],
        "problem": problem,
    }
    return render(request, "console/user_detail.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserForm(request.POST or None)
    return save_form(
        request,
        form=form,
        template="console/user_form.html",
        context={"pd_user": None},
        save=lambda: actions.user_create(actor=request.user, payload=form.to_payload()),
        success=lambda pd_user: f"User {pd_user.name} created in PagerDuty.",
        then=lambda pd_user: done(request, "console:user_detail", pd_id=pd_user.pd_id),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, pd_id: str) -> HttpResponse:
    pd_user = _user_or_404(request, pd_id)
    initial = {
        "name": pd_user.name,
        "email": pd_user.email,
        "role": pd_user.role,
        "time_zone": pd_user.time_zone,
        "job_title": pd_user.job_title,
    }
    form = UserForm(request.POST or None, initial=initial)
    return save_form(
        request,
        form=form,
        template="console/user_form.html",
        context={"pd_user": pd_user},
        save=lambda: actions.user_update(actor=request.user, user=pd_user, payload=form.to_payload()),
        success=lambda updated: f"User {updated.name} updated in PagerDuty.",
        then=lambda updated: done(request, "console:user_detail", pd_id=pd_id),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def user_delete(request: HttpRequest, pd_id: str) -> HttpResponse:
    pd_user = _user_or_404(request, pd_id)
    return confirm_delete(
        request,
        template="console/user_confirm_delete.html",
        context={"pd_user": pd_user},
        delete=lambda: actions.user_delete(actor=request.user, user=pd_user),
        success=f"User {pd_user.name} deleted in PagerDuty.",
        to="console:user_list",
    )


# -- status-update templates -------------------------------------------------------------------------------------


@admin_required
def template_list(request: HttpRequest) -> HttpResponse:
    filters = TemplateFilterForm(request.GET or None)
    values = filters.cleaned_data if filters.is_valid() else {}
    query, sort_by = values.get("query", ""), values.get("sort_by") or "name"
    problem = ""
    ordered_ids = None
    try:
        ordered_ids = actions.templates_refresh(actor=request.user, query=query, sort_by=sort_by)
    except PagerDutyError as exc:
        problem = f"Showing the portal's copy: PagerDuty did not answer the list request ({refusal(exc)})."
    templates = selectors.template_list(query=query, sort_by=sort_by, ordered_ids=ordered_ids)
    context = {"filters": filters, "templates": templates, "problem": problem}
    return render(request, "console/template_list.html", context)


def _template_or_404(pd_id: str):
    template = selectors.template_get(pd_id=pd_id)
    if template is None:
        raise Http404("No such template in the portal's copy of PagerDuty.")
    return template


@admin_required
@require_http_methods(["GET", "POST"])
def template_create(request: HttpRequest) -> HttpResponse:
    form = TemplateForm(request.POST or None)
    return save_form(
        request,
        form=form,
        template="console/template_form.html",
        context={"template": None},
        save=lambda: actions.template_create(actor=request.user, payload=form.to_payload()),
        success=lambda template: f"Template “{template.name}” created in PagerDuty.",
        then=lambda template: done(request, "console:template_preview", pd_id=template.pd_id),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pd_id: str) -> HttpResponse:
    template = _template_or_404(pd_id)
    form = TemplateForm(request.POST or None, initial=TemplateForm.initial_from(template))
    return save_form(
        request,
        form=form,
        template="console/template_form.html",
        context={"template": template},
        save=lambda: actions.template_update(actor=request.user, template=template, payload=form.to_payload()),
        success=lambda updated: f"Template “{updated.name}” updated in PagerDuty.",
        then=lambda updated: done(request, "console:template_list"),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def template_delete(request: HttpRequest, pd_id: str) -> HttpResponse:
    template = _template_or_404(pd_id)
    return confirm_delete(
        request,
        template="console/template_confirm_delete.html",
        context={"template": template},
        delete=lambda: actions.template_delete(actor=request.user, template=template),
        success=f"Template “{template.name}” deleted in PagerDuty.",
        to="console:template_list",
    )


@admin_required
@require_http_methods(["GET", "POST"])
def template_preview(request: HttpRequest, pd_id: str) -> HttpResponse:
    template = _template_or_404(pd_id)
    form = TemplatePreviewForm(request.POST or None)
    preview, error = None, ""
    if request.method == "POST" and form.is_valid():
        try:
            preview = actions.template_render(
                actor=request.user,
                template=template,
                incident_id=form.cleaned_data["incident"].strip(),
                message=form.cleaned_data.get("message") or "",
            )
        except PagerDutyError as exc:
            error = refusal(exc)
    context = {
        "template": template,
        "form": form,
        "preview": preview,
        "error": error,
        "incidents": selectors.incident_choices(viewer=request.user),
    }
    if request.htmx and request.method == "POST":
        return render(request, "console/template_preview.html#template-preview", context)
    return render(request, "console/template_preview.html", context)


# -- raw API console ---------------------------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def api_console(request: HttpRequest) -> HttpResponse:
    form = ApiConsoleForm(request.POST or None, request.FILES or None)
    result, refused = None, ""
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        upload = d.get("upload")
        console_request = actions.ConsoleRequest(
            method=d["method"],
            target=d["target"],
            params=d["params"],
            headers=d["headers"],
            body_type=d["body_type"],
            json_value=d.get("json_value"),
            form_data=d["form_data"],
            upload=(upload.name, upload.read(), upload.content_type or "application/octet-stream") if upload else None,
            upload_field=d.get("upload_field") or "file",
            response_type=d["response_type"],
            timeout=d["timeout"],
            retries=d["retries"],
            retry_delay=d["retry_delay"],
            exponential=d.get("exponential", False),
            retry_all_errors=d.get("retry_all_errors", False),
            debug=d.get("debug", False),
        )
        try:
            result = actions.api_console_call(actor=request.user, request=console_request)
        except selectors.ForeignHost as exc:
            refused = str(exc)
    context = {"form": form, "result": result, "refused": refused, "hosts": selectors.console_host_list()}
    status = 400 if refused else 200
    if request.htmx and request.method == "POST":
        return render(request, "console/api_console.html#console-result", context, status=status)
    return render(request, "console/api_console.html", context, status=status)


@admin_required
def api_console_download(request: HttpRequest, key: str) -> HttpResponse:
    stored = actions.console_download(actor=request.user, key=key)
    if stored is None:
        raise Http404("This download has expired; send the request again.")
    content, content_type = stored
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = 'attachment; filename="pagerduty-response.bin"'
    response["Cache-Control"] = "no-store"
    return response


# -- audit log ---------------------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    filters = AuditFilterForm(request.GET or None)
    values = filters.cleaned_data if filters.is_valid() else {}
    entries = selectors.audit_entries(
        actor=values.get("actor", ""),
        operation=values.get("operation", ""),
        status=(values.get("status") or "").strip().lower(),
        date_from=values.get("date_from"),
        date_to=values.get("date_to"),
    )
    if request.GET.get("format") == "csv":
        writer = csv.writer(_Echo())
        header = ["time", "actor", "operation", "method", "path", "target", "status", "error", "duration_ms", "url"]

        def rows():
            yield writer.writerow(header)
            for e in entries.iterator(chunk_size=500):
                # Paths and errors carry text typed into the console or sent back by PagerDuty.
                yield writer.writerow(
                    [
                        e.created_at.isoformat(),
                        csv_safe(e.actor_label),
                        csv_safe(e.operation),
                        csv_safe(e.method),
                        csv_safe(e.path),
                        csv_safe(e.target),
                        "" if e.status is None else e.status,
                        csv_safe(e.error),
                        "" if e.duration_ms is None else e.duration_ms,
                        csv_safe(e.url),
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="pd-portal-audit.csv"'
        return response
    page = paginate(request, entries, per_page=100)
    context = {
        "filters": filters,
        "page": page,
        "rows": selectors.audit_rows(entries=page),
        "querystring": query_without(request, "page", "format"),
        "operations": selectors.audit_operations(),
    }
    return render(request, "console/audit_log.html", context)
