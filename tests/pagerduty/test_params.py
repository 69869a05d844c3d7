"""Query parameters use PagerDuty's array style (`statuses[]=a&statuses[]=b`)."""

from urllib.parse import parse_qsl, urlsplit

from pdportal.pagerduty.client import encode_params

from .conftest import API


def test_it_sends_list_values_as_repeated_bracket_keys(client, mocked):
    mocked.get(f"{API}/incidents", json={"incidents": []})
    client.get("/incidents", {"statuses": ["triggered", "acknowledged"], "service_ids[]": ["S1"], "total": True})
    pairs = parse_qsl(urlsplit(mocked.calls[0].request.url).query)
    assert pairs == [
        ("statuses[]", "triggered"),
        ("statuses[]", "acknowledged"),
        ("service_ids[]", "S1"),
        ("total", "true"),
    ]


def test_it_drops_none_values_and_lowercases_booleans():
    assert encode_params({"a": None, "b": False, "c": 3}) == [("b", "false"), ("c", "3")]
