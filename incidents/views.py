"""Incident pages: thin views over selectors (reads) and actions (writes)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    return render(request, "incidents/incident_list.html", {})
