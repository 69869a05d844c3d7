"""The "take the pager" form: for how long (1 h, 4 h, until a time) and, for admins, for whom."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

SPANS = [("1h", "1 hour"), ("4h", "4 hours"), ("until", "Until…")]
MAX_SPAN = timedelta(days=14)


class TakePagerForm(forms.Form):
    span = forms.ChoiceField(choices=SPANS, initial="1h", widget=forms.RadioSelect, label="For")
    until = forms.DateTimeField(
        required=False,
        label="Until (your time zone)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    user = forms.ChoiceField(required=False, label="Who takes the pager")

    def __init__(self, *args: Any, people: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if people:
            self.fields["user"].choices = [("", "Me"), *people]
        else:
            del self.fields["user"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        now = timezone.now().replace(second=0, microsecond=0)
        span = data.get("span")
        end: datetime | None = None
        if span == "1h":
            end = now + timedelta(hours=1)
        elif span == "4h":
            end = now + timedelta(hours=4)
        elif span == "until":
            end = data.get("until")
            if end is None:
                self.add_error("until", "Choose until when you take the pager.")
            elif end <= now:
                self.add_error("until", "Choose a time in the future.")
            elif end - now > MAX_SPAN:
                self.add_error("until", "An override here can last at most 14 days.")
        data["start"], data["end"] = now, end
        return data
