"""Action forms validate input before anything is sent to PagerDuty."""

from __future__ import annotations

from incidents import forms


def test_snooze_takes_a_preset_or_custom_minutes():
    assert forms.SnoozeForm({"duration": "14400"}).is_valid()
    form = forms.SnoozeForm({"duration": "", "custom_minutes": "90"})
    assert form.is_valid() and form.cleaned_data["seconds"] == 5400
    empty = forms.SnoozeForm({"duration": ""})
    assert not empty.is_valid() and "Choose a snooze duration" in str(empty.errors)
    assert not forms.SnoozeForm({"custom_minutes": str(8 * 24 * 60)}).is_valid()  # over PagerDuty's 7 days


def test_merge_sources_accept_ids_and_numbers():
    form = forms.MergeForm({"sources": "#12, PABC123\n 14"})
    assert form.is_valid() and form.cleaned_data["sources"] == ["12", "PABC123", "14"]
    assert not forms.MergeForm({"sources": " , "}).is_valid()


def test_reassign_needs_users_or_one_policy_not_both():
    kwargs = {"users": [("PU1", "A")], "policies": [("PEP1", "P")]}
    assert forms.ReassignForm({"users": ["PU1"]}, **kwargs).is_valid()
    assert forms.ReassignForm({"escalation_policy": "PEP1"}, **kwargs).is_valid()
    assert not forms.ReassignForm({"users": ["PU1"], "escalation_policy": "PEP1"}, **kwargs).is_valid()
    assert not forms.ReassignForm({}, **kwargs).is_valid()


def test_send_event_requires_what_pagerduty_requires():
    trigger = forms.SendEventForm({"event_action": "trigger", "routing_key": "R" * 32})
    assert not trigger.is_valid()
    assert {"summary", "source", "severity"} <= set(trigger.errors)
    resolve = forms.SendEventForm({"event_action": "resolve", "routing_key": "R" * 32})
    assert not resolve.is_valid() and "dedup_key" in resolve.errors
    links = forms.SendEventForm(
        {"event_action": "resolve", "routing_key": "R", "dedup_key": "d", "links": '{"href": "x"}'}
    )
    assert not links.is_valid() and "Links must be a JSON list" in str(links.errors)


def test_notification_range_is_required_and_under_three_months():
    assert forms.NotificationFilterForm({"since": "2026-01-01", "until": "2026-03-01"}).is_valid()
    too_long = forms.NotificationFilterForm({"since": "2026-01-01", "until": "2026-05-01"})
    assert not too_long.is_valid() and "at most 3 months" in str(too_long.errors)
    backwards = forms.NotificationFilterForm({"since": "2026-02-01", "until": "2026-01-01"})
    assert not backwards.is_valid()


def test_bulk_actions_need_their_parameters():
    assert not forms.BulkForm({"action": "resolve"}).is_valid()  # nothing selected
    assert forms.BulkForm({"action": "resolve", "ids": ["P1"]}).is_valid()
    assert forms.BulkForm({"action": "resolve", "select_all": "1", "query": "status=triggered"}).is_valid()
    assert not forms.BulkForm({"action": "priority", "ids": ["P1"]}).is_valid()
    assert not forms.BulkForm({"action": "urgency", "ids": ["P1"], "urgency": "medium"}).is_valid()


def test_the_list_form_rejects_an_inverted_date_range():
    form = forms.IncidentFilterForm({"since": "2026-02-01", "until": "2026-01-01"})
    assert not form.is_valid() and "until" in form.errors
