"""Forms of the admin console: users, templates, template preview, the raw API console and audit filters."""

from __future__ import annotations

from typing import Any

from django import forms

from pdportal.web import BoundedDateField, JsonInputError, parse_json_input

# PagerDuty's user roles (the User schema's `role` enum).
USER_ROLES = [
    ("admin", "Admin"),
    ("user", "User (responder)"),
    ("limited_user", "Limited user"),
    ("observer", "Observer"),
    ("read_only_user", "Read-only user"),
    ("read_only_limited_user", "Read-only limited user"),
    ("restricted_access", "Restricted access"),
    ("owner", "Owner"),
]


class UserFilterForm(forms.Form):
    query = forms.CharField(required=False)
    team = forms.ChoiceField(required=False, choices=[])

    def __init__(self, *args: Any, teams: list[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "All teams"), *teams]


class UserForm(forms.Form):
    """Create/Update User: name, email, role, time zone and job title."""

    name = forms.CharField(max_length=100)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=USER_ROLES, initial="user")
    time_zone = forms.CharField(max_length=64, initial="UTC", help_text="For example Europe/Berlin.")
    job_title = forms.CharField(max_length=100, required=False)

    def to_payload(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "type": "user",
            "name": d["name"],
            "email": d["email"],
            "role": d["role"],
            "time_zone": d["time_zone"],
            "job_title": d.get("job_title") or "",
        }


class TemplateFilterForm(forms.Form):
    query = forms.CharField(required=False)
    sort_by = forms.ChoiceField(
        required=False,
        choices=[
            ("name", "Name (A to Z)"),
            ("name:desc", "Name (Z to A)"),
            ("created_at", "Oldest first"),
            ("created_at:desc", "Newest first"),
        ],
    )


class TemplateForm(forms.Form):
    """Create/Update Template: `templated_fields` email_subject, email_body and message."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    email_subject = forms.CharField(required=False, max_length=1024, label="Email subject")
    email_body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}), label="Email body (HTML)")
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Message", help_text="The short text: SMS, push, Slack."
    )

    def to_payload(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "template_type": "status_update",
            "name": d["name"],
            "description": d.get("description") or "",
            "templated_fields": {
                "email_subject": d.get("email_subject") or None,
                "email_body": d.get("email_body") or None,
                "message": d["message"],
            },
        }

    @staticmethod
    def initial_from(template: Any) -> dict[str, Any]:
        return {
            "name": template.name,
            "description": template.description,
            "email_subject": template.subject,
            "email_body": template.email_body,
            "message": template.message,
        }


class TemplatePreviewForm(forms.Form):
    incident = forms.CharField(max_length=64, label="Incident id", help_text="The incident to render against.")
    message = forms.CharField(required=False, label="Status update message", widget=forms.Textarea(attrs={"rows": 2}))


MAX_TOTAL_WAIT = 300


def _pairs(text: str, sep: str, what: str) -> list[tuple[str, str]]:
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if sep not in line:
            raise forms.ValidationError(f"Line {number}: write {what} as name{sep}value.")
        key, value = line.split(sep, 1)
        if not key.strip():
            raise forms.ValidationError(f"Line {number}: the name is empty.")
        pairs.append((key.strip(), value.strip()))
    return pairs


class ApiConsoleForm(forms.Form):
    """Every input of the raw API console; the request only ever goes to a configured PagerDuty host."""

    METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]

    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], initial="GET")
    target = forms.CharField(label="Path or URL", max_length=2048, initial="/incidents")
    params = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Query parameters", help_text="name=value"
    )
    headers = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Extra headers", help_text="Name: value"
    )
    body_type = forms.ChoiceField(
        choices=[
            ("none", "No body"),
            ("json", "JSON"),
            ("form", "Form data"),
            ("multipart", "Multipart (file upload)"),
        ],
        initial="none",
    )
    json_body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}), label="JSON body")
    form_data = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Form fields", help_text="name=value"
    )
    upload = forms.FileField(required=False, label="File")
    upload_field = forms.CharField(required=False, initial="file", max_length=100, label="File field name")
    response_type = forms.ChoiceField(
        choices=[("json", "JSON"), ("text", "Text"), ("binary", "Binary (download)")], initial="json"
    )
    timeout = forms.FloatField(min_value=1, max_value=120, initial=30, label="Timeout (s)")
    retries = forms.IntegerField(min_value=0, max_value=10, initial=0, label="Retry count")
    retry_delay = forms.FloatField(min_value=0, max_value=60, initial=1, label="Retry delay (s)")
    exponential = forms.BooleanField(required=False, initial=True, label="Exponential backoff")
    retry_all_errors = forms.BooleanField(
        required=False, label="Retry on all errors", help_text="Also retry POST/PATCH after a 5xx or network error."
    )
    debug = forms.BooleanField(required=False, label="Debug request", help_text="Show the outgoing request.")

    def clean_params(self) -> list[tuple[str, str]]:
        return _pairs(self.cleaned_data.get("params") or "", "=", "query parameters")

    def clean_headers(self) -> list[tuple[str, str]]:
        pairs = _pairs(self.cleaned_data.get("headers") or "", ":", "headers")
        for key, _ in pairs:
            # From names who acts in PagerDuty: the portal sets it to the admin's own email, never another's.
            if key.lower() in ("authorization", "host", "from"):
                raise forms.ValidationError(f"The {key} header is set by the portal and cannot be changed here.")
        return pairs

    def clean_form_data(self) -> list[tuple[str, str]]:
        return _pairs(self.cleaned_data.get("form_data") or "", "=", "form fields")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("body_type")
        if kind == "json":
            text = (data.get("json_body") or "").strip()
            if not text:
                self.add_error("json_body", "Enter a JSON body, or choose “No body”.")
            else:
                try:
                    data["json_value"] = parse_json_input(text)
                except JsonInputError as exc:
                    self.add_error("json_body", str(exc))
        retries, delay = data.get("retries") or 0, data.get("retry_delay") or 0
        waits = sum(min(delay * (2**i if data.get("exponential") else 1), 60) for i in range(retries))
        if waits > MAX_TOTAL_WAIT:
            # The request holds a web worker while it waits; keep the worst case bounded.
            self.add_error(
                "retry_delay",
                f"These settings could wait {waits:.0f} s in total; keep it under "
                f"{MAX_TOTAL_WAIT} s (fewer retries, a shorter delay, or no exponential backoff).",
            )
        if kind == "multipart" and not data.get("upload") and not data.get("form_data"):
            self.add_error("upload", "Choose a file (or add form fields) for a multipart body.")
        return data


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False)
    operation = forms.CharField(required=False)
    status = forms.CharField(required=False, help_text="ok, error or an HTTP status")
    date_from = BoundedDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = BoundedDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
