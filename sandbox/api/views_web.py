"""The sandbox's web pages: what an incident's `html_url` opens (PagerDuty's own incident page, in miniature)."""

from django.shortcuts import render

from . import models as m
from . import selectors as sel
from .errors import not_found


def incident_page(request, incident_id):
    incident = sel.incidents_qs().filter(pk=incident_id).first()
    if incident is None:
        raise not_found("Incident")
    alerts = m.Alert.objects.filter(incident=incident).order_by("-created_at")[:50]
    return render(request, "sandbox_api/incident.html", {"incident": incident, "alerts": alerts})
