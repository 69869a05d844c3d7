"""Forms of the services area: the service editor and the webhook subscription editor."""

from __future__ import annotations

from typing import Any

from django import forms

from . import selectors
from .events import INCIDENT_EVENT_TYPES, SERVICE_EVENT_TYPES
from .models import WebhookSubscription

URGENCIES = [("high", "High"), ("low", "Low"), ("severity_based", "Severity based")]
DAYS = [("1", "Mon"), ("2", "Tue"), ("3", "Wed"), ("4", "Thu"), ("5", "Fri"), ("6", "Sat"), ("7", "Sun")]


class ServiceForm(forms.Form):
    """Create/Update Service: the fields named as in PagerDuty's Service schema."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    escalation_policy = forms.ChoiceField(choices=[])
    auto_resolve_timeout = forms.IntegerField(
        required=False, min_value=0, help_text="Seconds; empty or 0 turns auto-resolve off."
    )
    acknowledgement_timeout = forms.IntegerField(
        required=False, min_value=0, help_text="Seconds; empty or 0 turns the acknowledgement timeout off."
    )
    urgency_rule = forms.ChoiceField(
        choices=[("constant", "Constant urgency"), ("use_support_hours", "Based on support hours")],
        initial="constant",
        label="Incident urgency rule",
    )
    urgency = forms.ChoiceField(choices=URGENCIES, initial="high", label="Urgency (constant)")
    during_support_hours = forms.ChoiceField(choices=URGENCIES[:2], initial="high", required=False)
    outside_support_hours = forms.ChoiceField(choices=URGENCIES[:2], initial="low", required=False)
    support_time_zone = forms.CharField(required=False, max_length=64, initial="UTC", label="Support hours time zone")
    support_start_time = forms.TimeField(required=False, label="Support hours start", initial="09:00")
    support_end_time = forms.TimeField(required=False, label="Support hours end", initial="17:00")
    support_days = forms.MultipleChoiceField(
        choices=DAYS, required=False, widget=forms.CheckboxSelectMultiple, initial=["1", "2", "3", "4", "5"]
    )
    alert_creation = forms.ChoiceField(
        choices=[
            ("create_alerts_and_incidents", "Create alerts and incidents"),
            ("create_incidents", "Create incidents only"),
        ],
        initial="create_alerts_and_incidents",
    )

    def __init__(self, *args: Any, policies: list[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["escalation_policy"].choices = [("", "— choose —"), *policies]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("urgency_rule") == "use_support_hours":
            for name in ("support_time_zone", "support_start_time", "support_end_time"):
                if not data.get(name):
                    self.add_error(name, "Required when urgency depends on support hours.")
            if not data.get("support_days"):
                self.add_error("support_days", "Choose at least one day.")
            start, end = data.get("support_start_time"), data.get("support_end_time")
            if start and end and start >= end:
                self.add_error("support_end_time", "Support hours must end after they start.")
        return data

    def to_payload(self) -> dict[str, Any]:
        """The `service` object PagerDuty expects (POST/PUT /services)."""
        d = self.cleaned_data
        payload: dict[str, Any] = {
            "name": d["name"],
            "description": d.get("description") or "",
            "escalation_policy": {"id": d["escalation_policy"], "type": "escalation_policy_reference"},
            # null disables the timeout (the spec: 0, null or unset turns it off).
            "auto_resolve_timeout": d.get("auto_resolve_timeout") or None,
            "acknowledgement_timeout": d.get("acknowledgement_timeout") or None,
            "alert_creation": d["alert_creation"],
        }
        if d["urgency_rule"] == "use_support_hours":
            payload["incident_urgency_rule"] = {
                "type": "use_support_hours",
                "during_support_hours": {"type": "constant", "urgency": d.get("during_support_hours") or "high"},
                "outside_support_hours": {"type": "constant", "urgency": d.get("outside_support_hours") or "low"},
            }
            payload["support_hours"] = {
                "type": "fixed_time_per_day",
                "time_zone": d["support_time_zone"],
                "start_time": d["support_start_time"].strftime("%H:%M:%S"),
                "end_time": d["support_end_time"].strftime("%H:%M:%S"),
                "days_of_week": sorted(int(x) for x in d["support_days"]),
            }
        else:
            payload["incident_urgency_rule"] = {"type": "constant", "urgency": d["urgency"]}
        return payload

    @staticmethod
    def initial_from(raw: dict[str, Any]) -> dict[str, Any]:
        """Form values from PagerDuty's service JSON (the mirror's raw copy)."""
        rule = raw.get("incident_urgency_rule") or {}
        hours = raw.get("support_hours") or {}
        initial: dict[str, Any] = {
            "name": raw.get("name", ""),
            "description": raw.get("description") or "",
            "escalation_policy": (raw.get("escalation_policy") or {}).get("id", ""),
            "auto_resolve_timeout": raw.get("auto_resolve_timeout"),
            "acknowledgement_timeout": raw.get("acknowledgement_timeout"),
            "alert_creation": raw.get("alert_creation") or "create_alerts_and_incidents",
            "urgency_rule": rule.get("type") or "constant",
            "urgency": rule.get("urgency") or "high",
        }
        if rule.get("type") == "use_support_hours":
            initial["during_support_hours"] = (rule.get("during_support_hours") or {}).get("urgency", "high")
            initial["outside_support_hours"] = (rule.get("outside_support_hours") or {}).get("urgency", "low")
        if hours:
            initial.update(
                support_time_zone=hours.get("time_zone") or "UTC",
                support_start_time=(hours.get("start_time") or "09:00:00")[:5],
                support_end_time=(hours.get("end_time") or "17:00:00")[:5],
                support_days=[str(d) for d in hours.get("days_of_week") or []],
            )
        return initial


class ServiceFilterForm(forms.Form):
    query = forms.CharField(required=False)
    name = forms.CharField(required=False)
    team = forms.ChoiceField(required=False, choices=[])

    def __init__(self, *args: Any, teams: list[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "All teams"), *teams]


EVENT_CHOICES = [
    ("Incident events", [(e, e) for e in INCIDENT_EVENT_TYPES]),
    ("Service events", [(e, e) for e in SERVICE_EVENT_TYPES]),
]
FILTER_CHOICES = [("account", "Whole account"), ("team", "One team"), ("service", "One service")]


class WebhookSubscriptionForm(forms.Form):
    """Create/Update Webhook Subscription. `url` only on create: PagerDuty does not change a delivery URL."""

    url = forms.URLField(max_length=1024, label="Delivery URL", assume_scheme="https")
    description = forms.CharField(required=False, max_length=1024)
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)
    filter_type = forms.ChoiceField(choices=FILTER_CHOICES, initial="account", label="Filter")
    filter_service = forms.ChoiceField(required=False, choices=[], label="Service")
    filter_team = forms.ChoiceField(required=False, choices=[], label="Team")
    active = forms.BooleanField(required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        creating: bool = True,
        services: list[tuple[str, str]] = (),
        teams: list[tuple[str, str]] = (),
        subscription: WebhookSubscription | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.subscription = subscription  # the one being edited: it never duplicates itself
        self.duplicate: WebhookSubscription | None = None
        if not creating:
            del self.fields["url"]
        self.fields["filter_service"].choices = [("", "—"), *services]
        self.fields["filter_team"].choices = [("", "—"), *teams]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("filter_type")
        data["filter_id"] = ""
        if kind in ("service", "team"):
            data["filter_id"] = data.get(f"filter_{kind}") or ""
            if not data["filter_id"]:
                self.add_error(f"filter_{kind}", f"Choose the {kind} this subscription is for.")
        url = data.get("url") or (self.subscription.url if self.subscription else "")
        if url and data.get("events") and not self.errors:
            self.duplicate = selectors.webhook_duplicate_of(
                url=url,
                events=data["events"],
                filter_type=kind or "account",
                filter_id=data["filter_id"],
                excluding=self.subscription.pd_id if self.subscription else "",
            )
        if self.duplicate is not None:
            whose = "this portal's own subscription" if self.duplicate.created_by_portal else "a subscription"
            self.add_error(
                None,
                f"Not saved: {whose} {self.duplicate.pd_id} already delivers some of these events for an "
                "overlapping scope to the same URL, so every delivery would arrive twice. Change that "
                "subscription instead, or choose other events, another scope or another URL.",
            )
        return data

    @staticmethod
    def initial_from(subscription: Any) -> dict[str, Any]:
        kind = (subscription.filter_type or "account_reference").removesuffix("_reference")
        initial = {
            "description": subscription.description,
            "events": list(subscription.events or []),
            "filter_type": kind,
            "active": subscription.active,
        }
        if kind in ("service", "team"):
            initial[f"filter_{kind}"] = subscription.filter_id
        return initial
