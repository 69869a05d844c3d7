"""Forms of the Settings pages."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime
from functools import lru_cache

from django import forms
from django.contrib.auth import password_validation
from django.utils import timezone

# The zones most on-call teams live in, offered first (west to east), before the full list.
COMMON_ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Helsinki",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)
# IANA areas of real places; the rest (Etc/GMT+5, Factory, localtime, posixrules, US/…, EST5EDT) are offsets,
# placeholders or legacy aliases that nobody means to pick.
GEOGRAPHIC_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)


def _label(zone: str, now: datetime) -> str:
    offset = now.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%z")
    return f"{zone} (UTC{offset[:3]}:{offset[3:]})"


@lru_cache(maxsize=2)
def _zone_choices(day: date) -> list[tuple[str, list[tuple[str, str]]]]:
    """Two groups, "Common zones" then "All zones", labelled with today's UTC offset (it moves with DST)."""
    now = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    places = sorted(z for z in zoneinfo.available_timezones() if z.split("/", 1)[0] in GEOGRAPHIC_AREAS and "/" in z)
    common = set(COMMON_ZONES)
    return [
        ("Common zones", [(zone, _label(zone, now)) for zone in COMMON_ZONES]),
        ("All zones", [(zone, _label(zone, now)) for zone in places if zone not in common]),
    ]


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
        choices: list = [("", blank), *_zone_choices(timezone.now().date())]
        saved = self.initial.get("time_zone") or ""
        listed = {zone for _, group in choices[1:] for zone, _ in group}
        if saved and saved not in listed and saved in zoneinfo.available_timezones():
            # A zone saved before the list was narrowed (say "US/Pacific") stays chosen, never silently dropped.
            choices.append(("Your current zone", [(saved, saved)]))
        self.fields["time_zone"].choices = choices
        self.fields["time_zone"].widget.attrs.update({"data-picker": "", "data-placeholder": "Search zones…"})


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
