"""Issue 11, finding 7: signed but malformed webhooks get a 4xx with a clear message, never a 5xx, and nothing
is stored for a rejected one; a seeded fuzz run of generated signed bodies holds the same line."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from pdportal.models import WebhookEvent
from pdportal.pagerduty.webhooks import sign

pytestmark = pytest.mark.django_db

SECRET = "whsec-fuzz"
SAMPLES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "webhooks").glob("*.json"))
FUZZ_SEED = 20261207
FUZZ_BODIES = 360


@pytest.fixture(autouse=True)
def _secret(settings):
    from incidents import webhooks

    settings.PAGERDUTY_WEBHOOK_SECRETS = [SECRET]
    webhooks.forget_secrets()
    yield
    webhooks.forget_secrets()


@pytest.fixture
def deliver(client):
    """POST a signed body (bytes or a document) the way PagerDuty does; 500s come back as responses."""
    client.raise_request_exception = False

    def post(body):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        headers = {"X-PagerDuty-Signature": sign(body, SECRET), "X-Webhook-Id": "fuzz"}
        return client.post("/hooks/pagerduty/", data=body, content_type="application/json", headers=headers)

    return post


def _sample(name: str = "incident.triggered.json") -> dict:
    return json.loads((SAMPLES[0].parent / name).read_text())


def _with(path: tuple, value, *, name: str = "incident.triggered.json") -> dict:
    document = _sample(name)
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


def _assert_refused(response, *, words: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    message = response.json()["error"]
    assert words.lower() in message.lower(), message
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("bad_id", [12345, 1.5, None, True, ["01ABC"], {"id": "01ABC"}, "", "x" * 129, "a b"])
def test_it_refuses_a_signed_event_whose_id_is_not_an_id_string(deliver, bad_id):
    _assert_refused(deliver(_with(("event", "id"), bad_id)), words="event.id")


@pytest.mark.parametrize("depth", [40, 2_000, 100_000])
def test_it_refuses_a_signed_body_nested_very_deep(deliver, depth):
    document = _sample()
    document["event"]["data"]["custom"] = json.loads("[" * min(depth, 500) + "]" * min(depth, 500))
    body = json.dumps(document).encode() if depth <= 500 else b'{"event": ' + b"[" * depth + b"]" * depth + b"}"
    _assert_refused(deliver(body), words="nested deeper")


@pytest.mark.parametrize(
    "occurred_at",
    [
        "9999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "2300-01-01T00:00:00Z",
        10**30,
        -(10**30),
        1_700_000_000,
        None,
        ["2026-01-01T00:00:00Z"],
        {"at": "2026-01-01T00:00:00Z"},
        "yesterday",
        "",
    ],
)
def test_it_refuses_a_signed_event_with_an_extreme_or_non_string_occurred_at(deliver, occurred_at):
    _assert_refused(deliver(_with(("event", "occurred_at"), occurred_at)), words="occurred_at")


@pytest.mark.parametrize(
    "body",
    [
        b'{"event": {"id": "\xff\xfe01ABC"}}',
        '{"event": {"id": "01ABC", "title": "caf\u00e9"}}'.encode("latin-1"),
        "{}".encode("utf-16"),
    ],
)
def test_it_refuses_a_signed_body_that_is_not_utf8(deliver, body):
    _assert_refused(deliver(body), words="UTF-8")


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        (("event", "data", "number"), 2**64, "number"),
        (("event", "data", "number"), "12", "number"),
        (("event", "data", "status"), ["triggered"], "status"),
        (("event", "data", "status"), "exploded", "status"),
        (("event", "data", "title"), {"a": 1}, "title"),
        (("event", "data", "id"), 7, "data.id"),
        (("event", "data", "service"), "PSVC1", "service"),
        (("event", "data", "assignees"), [7], "assignees"),
        (("event", "data", "created_at"), "9999-99-99", "created_at"),
        (("event", "data", "title"), "nul \u0000 byte", "NUL"),
        (("event", "data", "title"), "lone \ud800 surrogate", "surrogate"),
        (("event", "event_type"), 3, "event_type"),
        (("event", "resource_type"), None, "resource_type"),
        (("event", "agent"), "PUSER1", "agent"),
        (("event", "data"), [], "event.data"),
    ],
)
def test_it_refuses_a_signed_event_with_a_wrong_type_in_a_field_it_reads(deliver, field, value, words):
    _assert_refused(deliver(_with(field, value)), words=words)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"1e400", b"9" * 5000])
def test_it_refuses_numbers_no_database_can_hold(deliver, literal):
    body = json.dumps(_with(("event", "data", "number"), "@@")).encode().replace(b'"@@"', literal)
    response = deliver(body)
    assert 400 <= response.status_code < 500, response.content[:300]
    assert not WebhookEvent.objects.exists()


def test_a_real_sample_is_still_accepted_after_the_refusals(deliver):
    for path in SAMPLES:
        response = deliver(path.read_bytes())
        assert response.status_code == 202, (path.name, response.content)
    # Two of PagerDuty's published samples share one event id: each id is stored once.
    ids = {json.loads(p.read_text())["event"]["id"] for p in SAMPLES}
    assert WebhookEvent.objects.count() == len(ids)


# -- the fuzz run ---------------------------------------------------------------------------------------------------

WRONG_VALUES = [
    None,
    0,
    -1,
    2**63,
    2**64 + 1,
    -(2**70),
    1.5,
    True,
    False,
    "",
    "x" * 5000,
    "\u0000",
    "\ud83d",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    [],
    [None, 1, "a"],
    {},
    {"id": 5},
    {"id": ["P1"]},
]


def _paths(value, prefix=()):
    """Every path to a value inside a document (dict keys and list indexes)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


def _set(document, path, value):
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _nested(rng: random.Random, depth: int):
    value = rng.choice([[], {}, "leaf", 1])
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


def generated_bodies(seed: int = FUZZ_SEED, count: int = FUZZ_BODIES) -> list[tuple[str, bytes]]:
    """`count` signed-to-be bodies from the real samples, each with one or more mutations; deterministic."""
    rng = random.Random(seed)
    samples = [json.loads(p.read_text()) for p in SAMPLES]
    out: list[tuple[str, bytes]] = []
    for n in range(count):
        document = copy.deepcopy(rng.choice(samples))
        document["event"]["id"] = f"01FUZZ{n:05d}"
        kind = rng.choice(["wrong_type", "wrong_type", "wrong_type", "nesting", "huge", "non_utf8", "several"])
        paths = [p for p in _paths(document) if p]
        if kind in ("wrong_type", "several"):
            for _ in range(1 if kind == "wrong_type" else rng.randint(2, 6)):
                path = rng.choice(paths)
                try:
                    _set(document, path, copy.deepcopy(rng.choice(WRONG_VALUES)))
                except (KeyError, IndexError, TypeError):
                    continue
                paths = [p for p in _paths(document) if p]
            body = json.dumps(document).encode()
        elif kind == "nesting":
            path = rng.choice(paths)
            depth = rng.choice([20, 33, 200, 900])
            _set(document, path, _nested(rng, depth))
            body = json.dumps(document).encode()
        elif kind == "huge":
            path = rng.choice(paths)
            literal = rng.choice([b"1" * 400, b"-" + b"9" * 30, b"1e999", b"NaN", b"-Infinity", b"1234567890" * 3])
            _set(document, path, "@@HUGE@@")
            body = json.dumps(document).encode().replace(b'"@@HUGE@@"', literal)
        else:
            body = bytearray(json.dumps(document).encode())
            for _ in range(rng.randint(1, 4)):
                body.insert(rng.randrange(len(body)), rng.choice([0xFF, 0xC3, 0x80, 0xED, 0xFE]))
            body = bytes(body)
        out.append((kind, body))
    return out


def test_the_fuzz_generator_is_deterministic_and_large_enough():
    first, second = generated_bodies(), generated_bodies()
    assert first == second
    assert len(first) >= 300
    assert {kind for kind, _ in first} == {"wrong_type", "nesting", "huge", "non_utf8", "several"}


def test_no_generated_signed_body_gets_a_5xx_and_a_refused_one_stores_nothing(deliver):
    from incidents import webhooks

    refused = accepted = 0
    for kind, body in generated_bodies():
        before = WebhookEvent.objects.count()
        response = deliver(body)
        assert response.status_code < 500, (kind, response.status_code, body[:300])
        if response.status_code >= 400:
            refused += 1
            assert response.json()["error"], (kind, body[:200])
            assert WebhookEvent.objects.count() == before, (kind, body[:300])
        else:
            accepted += 1
            # A mutation can give two bodies the same event id: the second is a duplicate, stored once.
            stored = 0 if response.json()["status"] == "duplicate" else 1
            assert WebhookEvent.objects.count() == before + stored
    # Whatever was accepted, the consumer applies without crashing (a bad one is recorded on its row).
    webhooks.drain()
    assert refused > 100 and accepted > 10, (refused, accepted)
