"""The sandbox's web pages: what an incident's `html_url` opens (PagerDuty's own incident page, in miniature)."""

from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import domain
from . import models as m
from . import selectors as sel
from .errors import invalid, not_found


def incident_page(request, incident_id):
    incident = sel.incidents_qs().filter(pk=incident_id).first()
    if incident is None:
        raise not_found("Incident")
    alerts = m.Alert.objects.filter(incident=incident).order_by("-created_at")[:50]
    return render(request, "sandbox_api/incident.html", {"incident": incident, "alerts": alerts})


@csrf_exempt  # the sandbox's own page posts here (it has no CSRF middleware at all)
@require_POST
def responder_answer(request, incident_id, user_id):
    """What a requested responder does in PagerDuty's apps: accept or decline (`answer=accept|decline`)."""
    incident = m.Incident.objects.filter(pk=incident_id).first()
    target = m.User.objects.filter(pk=user_id).first()
    if incident is None or target is None:
        raise not_found("Incident" if incident is None else "User")
    answer = request.POST.get("answer", "")
    if answer not in ("accept", "decline"):
        raise invalid("answer must be accept or decline")
    domain.responder_request_answer(
        target=target, incident=incident, accept=answer == "accept", message=request.POST.get("message", "")
    )
    return redirect(f"/web/incidents/{incident.pk}")
