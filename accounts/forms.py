"""Forms of the Settings pages."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms
from django.contrib.auth import password_validation


@cache
def _zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(zoneinfo.available_timezones())]


class ApiKeyForm(forms.Form):
    api_key = forms.CharField(
        label="PagerDuty REST API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        min_length=8,
        max_length=200,
        strip=True,
        help_text="An account-level key (Integrations → API Access Keys). It is stored encrypted.",
    )

    def clean_api_key(self) -> str:
        key = self.cleaned_data["api_key"]
        if any(ch.isspace() for ch in key):
            raise forms.ValidationError("An API key has no spaces; paste just the key.")
        return key


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(label="Time zone", required=False)
    # Exactly what static/pdportal/live.js notifies about (NOTIFY_EVENTS, for incidents assigned to the person).
    notify_desktop = forms.BooleanField(
        label="Desktop notification and sound when an incident assigned to me is triggered, reopened, escalated "
        "or reassigned",
        required=False,
    )
    theme = forms.ChoiceField(
        label="Theme",
        required=False,
        choices=[("", "System"), ("light", "Light"), ("dark", "Dark")],
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, default_zone: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        blank = f"PagerDuty's ({default_zone})" if default_zone else "UTC"
        self.fields["time_zone"].choices = [("", blank), *_zone_choices()]


class NewPasswordForm(forms.Form):
    password1 = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            try:
                password_validation.validate_password(first)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class PortalLoginForm(NewPasswordForm):
    email = forms.EmailField(
        label="PagerDuty email",
        help_text="The login acts in PagerDuty as the user with this email, with that user's role.",
    )
    field_order = ["email", "password1", "password2"]
