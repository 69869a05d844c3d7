"""Seed on-call schedules for the seeded teams: weekly and daily rotations, a restricted layer with gaps, an override.

Kept apart from seed.py so the account seed only calls `seed_schedules(base=...)` once its people, teams and
escalation policies exist; it finds them by name and email, and uses its own RNG so the other seeded ids
(which the tests derive from the seed's RNG) do not move.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

from . import models as m
from .context import ID_ALPHABET

SEED = 20240616

# name, time zone, team, policy that pages it at level 1, layers (name, emails, turn in days, hand-off
# hour, restrictions)
WEEKDAYS_08_18 = [
    {"type": "weekly_restriction", "start_day_of_week": d, "start_time_of_day": "08:00:00", "duration_seconds": 36000}
    for d in range(1, 6)
]
SCHEDULES = [
    (
        "Platform Primary",
        "Europe/Berlin",
        "Platform",
        "Platform On-Call",
        [("Daily rotation", ["responder@example.com", "oncall@example.com", "admin@example.com"], 1, 9, [])],
    ),
    (
        "Payments Follow-the-Sun",
        "Asia/Kolkata",
        "Payments",
        "Payments On-Call",
        [
            ("Weekly rotation", ["responder2@example.com", "admin@example.com"], 7, 9, []),
            (
                "Nights",
                ["admin@example.com"],
                7,
                20,
                [{"type": "daily_restriction", "start_time_of_day": "20:00:00", "duration_seconds": 43200}],
            ),
        ],
    ),
    (
        "Mobile Business Hours",
        "America/Los_Angeles",
        "Mobile",
        "Mobile On-Call",
        [("Weekdays", ["oncall@example.com", "limited@example.com"], 7, 8, WEEKDAYS_08_18)],
    ),
]
# Minutes before an unacknowledged incident moves on from each level, per policy.
DELAYS = {"Platform On-Call": [15, 20, 30], "Payments On-Call": [10, 30], "Mobile On-Call": [30, 60]}

FLUSH = [
    m.ScheduleOverride,
    m.Schedule.escalation_rules.through,
    m.Schedule.teams.through,
    m.ScheduleLayer,
    m.Schedule,
]


def flush_schedules() -> None:
    for model in FLUSH:
        model.objects.all()._raw_delete(using="default")


def _ids():
    rng = random.Random(SEED)
    seen: set[str] = set()

    def make(prefix: str = "P", length: int = 7) -> str:
        while True:
            value = prefix + "".join(rng.choice(ID_ALPHABET) for _ in range(length - len(prefix)))
            if value not in seen and not m.Schedule.objects.filter(pk=value).exists():
                seen.add(value)
                return value

    return make


def seed_schedules(*, base: dt.datetime) -> dict:
    """Schedules whose rotations started four weeks before `base`, so who is on call changes through the week."""
    ids = _ids()
    users = {u.email: u for u in m.User.objects.all()}
    teams = {t.name: t for t in m.Team.objects.all()}
    policies = {p.name: p for p in m.EscalationPolicy.objects.prefetch_related("rules")}
    monday = (base - dt.timedelta(days=base.weekday())).date() - dt.timedelta(weeks=4)
    made = []
    for name, zone_name, team, policy_name, layers in SCHEDULES:
        if policy_name not in policies or team not in teams:
            continue
        zone = zoneinfo.ZoneInfo(zone_name)
        schedule = m.Schedule.objects.create(
            id=ids(), name=name, time_zone=zone_name, description=f"{team} on-call rotation"
        )
        schedule.teams.add(teams[team])
        for position, (layer_name, emails, turn_days, hour, restrictions) in enumerate(layers, start=1):
            start = dt.datetime.combine(monday, dt.time(hour), tzinfo=zone).astimezone(dt.UTC)
            m.ScheduleLayer.objects.create(
                id=ids(),
                schedule=schedule,
                position=position,
                name=layer_name,
                start=start,
                end=None,
                rotation_virtual_start=start,
                rotation_turn_length_seconds=turn_days * 86400,
                user_ids=[users[e].id for e in emails if e in users],
                restrictions=restrictions,
            )
        rules = sorted(policies[policy_name].rules.all(), key=lambda r: r.position)
        if rules:
            schedule.escalation_rules.add(rules[0])
        for rule, delay in zip(rules, DELAYS.get(policy_name, []), strict=False):
            if rule.escalation_delay_in_minutes != delay:
                rule.escalation_delay_in_minutes = delay
                rule.save(update_fields=["escalation_delay_in_minutes"])
        made.append(schedule)
    # One override already in the book: the admin covers the Platform rotation for an afternoon in two days.
    platform = next((s for s in made if s.name == "Platform Primary"), None)
    if platform is not None and "admin@example.com" in users:
        day = (base + dt.timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)
        m.ScheduleOverride.objects.create(
            id=ids("Q", 14),
            schedule=platform,
            user=users["admin@example.com"],
            start=day,
            end=day + dt.timedelta(hours=6),
        )
    return {"schedules": len(made)}
