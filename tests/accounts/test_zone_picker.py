"""The time-zone picker: real places only (no "Factory", "localtime" or Etc/ offsets), the common ones first."""

from __future__ import annotations

import zoneinfo

import pytest

from accounts.forms import COMMON_ZONES, PreferencesForm


def _groups(form: PreferencesForm) -> list[tuple[str, list[tuple[str, str]]]]:
    choices = list(form.fields["time_zone"].choices)
    assert choices[0][0] == "", "the first choice is the default (PagerDuty's zone)"
    return choices[1:]


def test_common_zones_come_first_then_every_geographic_zone_once():
    groups = _groups(PreferencesForm(default_zone="Europe/Berlin"))
    assert [name for name, _ in groups] == ["Common zones", "All zones"]
    common = [value for value, _ in groups[0][1]]
    assert common == list(COMMON_ZONES)
    assert {"UTC", "America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Sydney"} <= set(common)
    everything = [value for value, _ in groups[1][1]]
    assert len(everything) == len(set(everything)) and not set(everything) & set(common)
    assert "Europe/Berlin" in everything + common and "America/Argentina/Buenos_Aires" in everything


def test_non_geographic_and_legacy_names_are_gone():
    values = {value for _, group in _groups(PreferencesForm()) for value, _ in group}
    for name in ("Factory", "localtime", "posixrules", "Etc/GMT+5", "GMT+0", "EST5EDT", "US/Eastern", "Zulu"):
        assert name not in values, name
    assert all(zone in zoneinfo.available_timezones() for zone in values)
    assert 300 < len(values) < len(zoneinfo.available_timezones())


def test_labels_say_the_place_and_its_offset_now():
    labels = dict(item for _, group in _groups(PreferencesForm()) for item in group)
    assert labels["UTC"] == "UTC (UTC+00:00)"
    assert labels["Asia/Kolkata"] == "Asia/Kolkata (UTC+05:30)"


def test_a_saved_zone_outside_the_list_is_kept_not_silently_dropped():
    form = PreferencesForm(initial={"time_zone": "US/Pacific"})
    assert "US/Pacific" in {value for _, group in _groups(form) for value, _ in group}
    assert PreferencesForm({"time_zone": "US/Pacific"}, initial={"time_zone": "US/Pacific"}).is_valid()


@pytest.mark.django_db
def test_the_page_offers_the_searchable_picker_and_refuses_factory_in_words(client_as, responder):
    client = client_as(responder)
    html = client.get("/settings/me/").content.decode()
    assert "data-picker" in html and '<optgroup label="Common zones">' in html
    assert 'value="Factory"' not in html and 'value="localtime"' not in html
    response = client.post("/settings/me/", {"time_zone": "Factory"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
