"""Forms of the incident console: the list's query string, and every action's input (validated before PagerDuty)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.http import QueryDict
from django.utils import formats, timezone

from incidents.models import Incident
from pdportal.web import BoundedDateTimeField, JsonInputError, fast_selects, parse_json_input

SORTS = {
    "number": "number",
    "title": "title",
    "status": "status",
    "urgency": "urgency",
    "priority": "priority__order",
    "service": "service__name",
    "assignees": "first_assignee",
    "created": "created_at",
    "age": "created_at",
    "alerts": "alert_count",
}
OPEN_STATUSES = ("triggered", "acknowledged")
PER_PAGE_CHOICES = [(25, "25"), (50, "50"), (100, "100"), (250, "250")]


class _Multi(forms.MultipleChoiceField):
    """PagerDuty ids, with no choices of their own: an id the mirror does not know (yet) simply matches nothing,
    and the pickers read their options from the selectors (only when a page shows them)."""

    def valid_value(self, value):
        return True


class UntilField(BoundedDateTimeField):
    """The end of a range: a date typed without a time means the end of that day, in the current time zone.

    People write "until 2026-03-10" meaning that day included; midnight would leave the whole day out.
    """

    def to_python(self, value):
        day = _date_only(value)
        if day is None:
            return super().to_python(value)
        # 9999-12-31 has no next midnight: check the range before adding the day.
        super().to_python(day.isoformat())
        next_midnight = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
        # The last instant of the day, so the selectors' inclusive `<=` keeps every incident of it.
        return next_midnight - timedelta(microseconds=1)


def _date_only(value: object) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    for fmt in formats.get_format("DATE_INPUT_FORMATS"):
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    return None


class IncidentFilterForm(forms.Form):
    """The incident list's state: every filter, the sort and the page live in the query string."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.MultipleChoiceField(required=False, choices=Incident.Status.choices)
    urgency = forms.MultipleChoiceField(required=False, choices=Incident.Urgency.choices)
    priority = _Multi(required=False)
    service = _Multi(required=False)
    team = _Multi(required=False)
    escalation_policy = _Multi(required=False, label="Escalation policy")
    not_service = _Multi(required=False, label="Not service")
    not_team = _Multi(required=False, label="Not team")
    not_priority = _Multi(required=False, label="Not priority")
    assigned = forms.ChoiceField(
        required=False,
        choices=[("", "Anyone"), ("me", "Assigned to me"), ("my_teams", "My teams")],
        label="Assigned",
    )
    since = BoundedDateTimeField(required=False, label="Created from")
    until = UntilField(required=False, label="Created until")
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in SORTS] + [(f"-{k}", f"-{k}") for k in SORTS])
    page = forms.IntegerField(required=False, min_value=1)
    per_page = forms.TypedChoiceField(required=False, coerce=int, choices=PER_PAGE_CHOICES, empty_value=50)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound and not self.data.get("per_page"):
            # The picker must show the page size actually used, not its first option.
            self.data = self.data.copy()
            self.data["per_page"] = str(self.fields["per_page"].empty_value)
        if self.is_bound and not self.data.get("status"):
            # The triage home: open incidents unless the person asks for resolved ones (the boxes show it).
            self.data = self.data.copy()
            if isinstance(self.data, QueryDict):
                self.data.setlist("status", list(OPEN_STATUSES))
            else:
                self.data["status"] = list(OPEN_STATUSES)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "“Created until” must be after “Created from”.")
        return data


# The list's own parameters that are not filters: a saved view never keeps them.
NOT_FILTERS = frozenset({"page", "partial"})


def filter_query(query: str) -> str:
    """Only the list's filter parameters of a query string (in their order), as a saved view keeps them."""
    known = set(IncidentFilterForm.base_fields) - NOT_FILTERS
    parsed = QueryDict(query or "")
    kept = QueryDict(mutable=True)
    for key in parsed:
        if key in known:
            values = [v for v in parsed.getlist(key) if v.strip()]
            if values:
                kept.setlist(key, values)
    return kept.urlencode()


class SavedViewForm(forms.Form):
    """Save the list's current filters under a name (the same name again replaces them)."""

    name = forms.CharField(max_length=80, required=False, strip=True)
    query = forms.CharField(max_length=2000, required=False)

    def clean_name(self):
        name = self.cleaned_data["name"]
        if not name:
            raise forms.ValidationError("Give the view a name.")
        return name

    def clean_query(self):
        return filter_query(self.cleaned_data["query"])


class NoteForm(forms.Form):
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=25_000, strip=True)


class ResolveForm(forms.Form):
    resolution = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5_000, label="Resolution note"
    )


SNOOZE_PRESETS = [("3600", "1 hour"), ("14400", "4 hours"), ("28800", "8 hours"), ("86400", "24 hours")]


@fast_selects
class SnoozeForm(forms.Form):
    duration = forms.ChoiceField(required=False, choices=[("", "Custom"), *SNOOZE_PRESETS])
    custom_minutes = forms.IntegerField(required=False, min_value=1, max_value=7 * 24 * 60, label="Minutes")

    def clean(self):
        data = super().clean()
        if data.get("duration"):
            data["seconds"] = int(data["duration"])
        elif data.get("custom_minutes"):
            data["seconds"] = int(data["custom_minutes"]) * 60
        elif not self.errors:
            raise forms.ValidationError("Choose a snooze duration (1, 4, 8 or 24 hours) or enter minutes.")
        return data


@fast_selects
class ReassignForm(forms.Form):
    users = _Multi(required=False, label="Users")
    escalation_policy = forms.ChoiceField(required=False, label="Escalation policy")

    def __init__(self, *args, users=(), policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].choices = list(users)
        self.fields["escalation_policy"].choices = [("", "—"), *list(policies)]

    def clean(self):
        data = super().clean()
        if bool(data.get("users")) == bool(data.get("escalation_policy")):
            raise forms.ValidationError("Choose either users or one escalation policy.")
        return data


@fast_selects
class EscalateForm(forms.Form):
    level = forms.IntegerField(min_value=1, max_value=20, label="Escalation level")


@fast_selects
class UpdateFieldsForm(forms.Form):
    """Title, priority, urgency, service: only the fields filled in are sent."""

    title = forms.CharField(required=False, max_length=1024)
    priority = forms.ChoiceField(required=False)
    urgency = forms.ChoiceField(required=False, choices=[("", "—"), *list(Incident.Urgency.choices)])
    service = forms.ChoiceField(required=False)

    def __init__(self, *args, priorities=(), services=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["priority"].choices = [("", "—"), *list(priorities)]
        self.fields["service"].choices = [("", "—"), *list(services)]

    def clean(self):
        data = super().clean()
        if not any(data.get(k) for k in ("title", "priority", "urgency", "service")):
            raise forms.ValidationError("Change at least one field.")
        return data


@fast_selects
class MergeForm(forms.Form):
    sources = forms.CharField(
        max_length=5_000, label="Incidents to merge into this one", help_text="Incident ids or numbers, comma-separated"
    )

    def clean_sources(self):
        items = [s.strip().lstrip("#") for s in self.cleaned_data["sources"].replace("\n", ",").split(",")]
        items = [s for s in items if s]
        if not items:
            raise forms.ValidationError("Enter at least one incident.")
        return items


@fast_selects
class ResponderForm(forms.Form):
    users = _Multi(required=False)
    escalation_policies = _Multi(required=False)
    message = forms.CharField(max_length=1_000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, users=(), policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].choices = list(users)
        self.fields["escalation_policies"].choices = list(policies)

    def clean(self):
        data = super().clean()
        if not data.get("users") and not data.get("escalation_policies"):
            raise forms.ValidationError("Choose at least one user or escalation policy.")
        return data


@fast_selects
class StatusUpdateForm(forms.Form):
    template = forms.ChoiceField(required=False)
    message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000)
    subject = forms.CharField(required=False, max_length=1_000)
    html_message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=50_000)

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", "Write freely"), *list(templates)]

    def clean(self):
        data = super().clean()
        if not (data.get("message") or "").strip() and not data.get("template"):
            self.add_error("message", "Write a message or choose a template.")
        if bool(data.get("subject")) != bool(data.get("html_message")):
            self.add_error("html_message", "A custom email needs both a subject and an HTML body.")
        return data


@fast_selects
class AlertsForm(forms.Form):
    alerts = _Multi(label="Alerts")
    target = forms.CharField(required=False, max_length=64, label="Move to incident (id or number)")


BULK_ACTIONS = [
    ("acknowledge", "Acknowledge"),
    ("resolve", "Resolve"),
    ("reassign", "Reassign"),
    ("escalate", "Escalate"),
    ("snooze", "Snooze"),
    ("priority", "Set priority"),
    ("urgency", "Set urgency"),
]
# Actions that need a "yes" first, whatever the selection: a resolve cannot be undone from the portal.
BULK_CONFIRM_ACTIONS = frozenset({"resolve"})


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=BULK_ACTIONS)
    ids = _Multi(required=False)
    select_all = forms.BooleanField(required=False)
    query = forms.CharField(required=False, max_length=4_000)
    users = _Multi(required=False)
    escalation_policy = forms.CharField(required=False, max_length=64)
    level = forms.IntegerField(required=False, min_value=1, max_value=20)
    priority = forms.CharField(required=False, max_length=64)
    urgency = forms.ChoiceField(required=False, choices=[("", "—"), *list(Incident.Urgency.choices)])
    resolution = forms.CharField(required=False, max_length=5_000, strip=True, label="Resolution note")
    duration = forms.ChoiceField(required=False, choices=[("", "—"), *SNOOZE_PRESETS], label="Snooze for")
    # Set by the confirmation (the dialog, or the question the server asks without JavaScript).
    confirmed = forms.BooleanField(required=False)

    def needs_confirmation(self) -> bool:
        """Resolve, or anything applied to "all N matching", waits for an explicit yes."""
        data = self.cleaned_data
        return (data.get("action") in BULK_CONFIRM_ACTIONS or bool(data.get("select_all"))) and not data["confirmed"]

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == "snooze" and not data.get("duration"):
            self.add_error("duration", "Choose how long to snooze.")
        if not data.get("ids") and not data.get("select_all"):
            raise forms.ValidationError("Select at least one incident.")
        if action == "reassign" and not data.get("users") and not data.get("escalation_policy"):
            self.add_error("users", "Choose users or an escalation policy.")
        if action == "escalate" and not data.get("level"):
            self.add_error("level", "Choose an escalation level.")
        if action == "priority" and not data.get("priority"):
            self.add_error("priority", "Choose a priority.")
        if action == "urgency" and not data.get("urgency"):
            self.add_error("urgency", "Choose an urgency.")
        return data


@fast_selects
class NewIncidentForm(forms.Form):
    title = forms.CharField(max_length=1024)
    service = forms.ChoiceField()
    urgency = forms.ChoiceField(choices=[("", "Service default"), *list(Incident.Urgency.choices)], required=False)
    priority = forms.ChoiceField(required=False)
    details = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=50_000)
    assignees = _Multi(required=False)
    escalation_policy = forms.ChoiceField(required=False)
    incident_key = forms.CharField(required=False, max_length=255)

    def __init__(self, *args, services=(), priorities=(), users=(), policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [("", "—"), *list(services)]
        self.fields["priority"].choices = [("", "—"), *list(priorities)]
        self.fields["assignees"].choices = list(users)
        self.fields["escalation_policy"].choices = [("", "Service default"), *list(policies)]

    def clean(self):
        data = super().clean()
        if data.get("assignees") and data.get("escalation_policy"):
            self.add_error("escalation_policy", "Assign users or an escalation policy, not both.")
        return data


def _json_field(value: str, *, kind: type, label: str):
    if not value or not value.strip():
        return kind()
    try:
        parsed = parse_json_input(value)
    except JsonInputError as exc:
        if exc.detail:
            raise forms.ValidationError(f"{label} must be valid JSON ({exc.detail}).") from None
        raise forms.ValidationError(f"{label}: {exc}") from None
    if not isinstance(parsed, kind):
        raise forms.ValidationError(f"{label} must be a JSON {'object' if kind is dict else 'list'}.")
    return parsed


@fast_selects
class SendEventForm(forms.Form):
    """Send Event (Events API v2): to a service picked by name, or (advanced) to a raw routing key."""

    service = forms.ChoiceField(
        required=False,
        choices=[],
        help_text="Services you may act on that have an Events API v2 integration; the portal reads its key.",
    )
    event_action = forms.ChoiceField(
        choices=[("trigger", "Trigger"), ("acknowledge", "Acknowledge"), ("resolve", "Resolve")], label="Action"
    )
    routing_key = forms.CharField(
        required=False,
        max_length=64,
        label="Routing key",
        help_text="An integration key (32 characters), instead of a service.",
    )
    dedup_key = forms.CharField(required=False, max_length=255)
    summary = forms.CharField(required=False, max_length=1024)
    severity = forms.ChoiceField(
        required=False,
        choices=[("", "—"), ("critical", "critical"), ("error", "error"), ("warning", "warning"), ("info", "info")],
    )
    source = forms.CharField(required=False, max_length=255)
    component = forms.CharField(required=False, max_length=255)
    group = forms.CharField(required=False, max_length=255)
    event_class = forms.CharField(required=False, max_length=255, label="Class")
    custom_details = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Custom details")
    links = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='JSON list, e.g. [{"href": "https://…", "text": "Runbook"}]',
    )

    def __init__(self, *args, services: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [("", "Choose a service…"), *services]

    def clean_custom_details(self):
        return _json_field(self.cleaned_data.get("custom_details", ""), kind=dict, label="Custom details")

    def clean_links(self):
        return _json_field(self.cleaned_data.get("links", ""), kind=list, label="Links")

    def clean(self):
        data = super().clean()
        data["routing_key"] = (data.get("routing_key") or "").strip()
        if "service" not in self.errors:
            if data.get("service") and data["routing_key"]:
                self.add_error("routing_key", "Choose a service or enter a routing key, not both.")
            elif not data.get("service") and not data["routing_key"]:
                self.add_error("service", "Choose a service, or enter a routing key under Advanced.")
        if data.get("event_action") == "trigger":
            for name in ("summary", "source", "severity"):
                if not data.get(name):
                    self.add_error(name, "Required to trigger an alert.")
        elif not data.get("dedup_key"):
            self.add_error("dedup_key", "Required to acknowledge or resolve.")
        return data


class ChangeEventFilterForm(forms.Form):
    team = _Multi(required=False)
    integration = forms.CharField(required=False, max_length=64)
    since = BoundedDateTimeField(required=False)
    until = UntilField(required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=100)

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = list(teams)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "“Until” must be after “since”.")
        return data


@fast_selects
class ChangeEventSendForm(forms.Form):
    """Send Change Event (Events API v2): everything a new change event carries."""

    routing_key = forms.CharField(max_length=64)
    summary = forms.CharField(max_length=1024)
    source = forms.CharField(required=False, max_length=255)
    timestamp = BoundedDateTimeField(required=False)
    custom_details = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    links = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_custom_details(self):
        return _json_field(self.cleaned_data.get("custom_details", ""), kind=dict, label="Custom details")

    def clean_links(self):
        return _json_field(self.cleaned_data.get("links", ""), kind=list, label="Links")


@fast_selects
class ChangeEventEditForm(forms.Form):
    """Update Change Event: PagerDuty lets only the summary and the custom details change (the rest is read-only).

    Emptying the custom details clears them ({}).
    """

    summary = forms.CharField(max_length=1024)
    custom_details = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), help_text="A JSON object; leave empty to clear."
    )

    def clean_custom_details(self):
        return _json_field(self.cleaned_data.get("custom_details", ""), kind=dict, label="Custom details")


class NotificationFilterForm(forms.Form):
    since = BoundedDateTimeField()
    until = BoundedDateTimeField()
    filter = forms.ChoiceField(
        required=False,
        choices=[
            ("", "All types"),
            ("sms_notification", "SMS"),
            ("email_notification", "Email"),
            ("phone_notification", "Phone"),
            ("push_notification", "Push"),
        ],
        label="Type",
    )
    time_zone = forms.CharField(required=False, max_length=64)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            if since >= until:
                self.add_error("until", "“Until” must be after “since”.")
            elif until - since > timedelta(days=90):
                self.add_error("until", "PagerDuty allows at most 3 months between since and until.")
        return data

    @staticmethod
    def default_range() -> dict:
        now = timezone.now()
        return {"since": (now - timedelta(days=7)).strftime("%Y-%m-%d %H:%M"), "until": now.strftime("%Y-%m-%d %H:%M")}
