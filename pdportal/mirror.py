"""The mirror's machinery: upserts keyed by PagerDuty id, guarded by change time, with stubs and tombstones.

Each app writes its own models with these pieces (accounts/mirror.py, services/mirror.py, incidents/mirror.py;
see incidents/mirror.py for the rules every `upsert_*` follows). A model opts into tombstones (its deletions
are remembered, so a late webhook cannot revive it) with `keeps_tombstone = True`, and says what a stub for an
unknown reference holds with `mirror_stub` (pdportal.models.MirrorModel).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from pdportal.models import Tombstone

Json = Mapping[str, Any]


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from PagerDuty's ISO 8601 strings (with `Z`), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_stale(instance: models.Model | None, changed_at: datetime | None) -> bool:
    """True when the stored record already holds a newer change than this one."""
    if instance is None or changed_at is None:
        return False
    stored = getattr(instance, "changed_at", None)
    return stored is not None and changed_at < stored


def ref_id(ref: Any) -> str | None:
    if isinstance(ref, Mapping):
        rid = ref.get("id")
        return str(rid) if rid else None
    if isinstance(ref, str) and ref:
        return ref
    return None


def summary(ref: Any) -> str:
    if isinstance(ref, Mapping):
        return str(ref.get("name") or ref.get("summary") or ref.get("id") or "")
    return str(ref or "")


def text(value: Any, limit: int | None = None) -> str:
    text = "" if value is None else str(value)
    return text[:limit] if limit else text


class Refs:
    """Resolves PagerDuty references to mirror rows, creating stubs for unknown ids.

    One instance can be shared across many upserts (the sync does): each model's id map is loaded once
    with a single query, so upserting thousands of incidents does not cost one lookup per reference.
    """

    def __init__(self) -> None:
        self._maps: dict[type[models.Model], dict[str, int]] = {}

    def _map(self, model: type[models.Model]) -> dict[str, int]:
        if model not in self._maps:
            self._maps[model] = dict(model.objects.values_list("pd_id", "pk"))
        return self._maps[model]

    def remember(self, instance: models.Model) -> None:
        if type(instance) in self._maps:
            self._maps[type(instance)][instance.pd_id] = instance.pk

    def pk(self, model: type[models.Model], ref: Any, **stub: Any) -> int | None:
        rid = ref_id(ref)
        if rid is None:
            return None
        ids = self._map(model)
        if rid not in ids:
            obj, _ = model.objects.get_or_create(pd_id=rid, defaults={**stub, "raw": {}})
            ids[rid] = obj.pk
        return ids[rid]

    def pks(self, model: type[models.Model], refs: Iterable[Any], **stub: Any) -> list[int]:
        out = []
        for ref in refs or ():
            pk = self.pk(model, ref, **stub_for(model, ref, **stub))
            if pk is not None:
                out.append(pk)
        return out


def stub_for(model: type[models.Model], ref: Any, **extra: Any) -> dict[str, Any]:
    """The columns of a stub for a reference the mirror does not hold yet (each model says its own: mirror_stub)."""
    return {**model.mirror_stub(name=summary(ref), ref=ref), **extra}


def fk(refs: Refs, model: type[models.Model], ref: Any) -> int | None:
    return refs.pk(model, ref, **stub_for(model, ref)) if ref else None


def merged_raw(instance: models.Model | None, data: Json) -> dict[str, Any]:
    base = dict(instance.raw) if instance is not None and isinstance(instance.raw, dict) else {}
    base.update(dict(data))
    return base


def save(
    model: type[models.Model],
    pd_id: str,
    fields: dict[str, Any],
    *,
    data: Json,
    changed_at: datetime | None,
    instance: models.Model | None = None,
    lookup: bool = True,
) -> tuple[models.Model | None, bool]:
    """Create or update one row; returns (instance, applied). Not applied when the stored change is newer,
    or when the record was deleted after this change (a tombstone, see mark_deleted)."""
    if instance is None and lookup:
        instance = model.objects.filter(pd_id=pd_id).first()
    if is_stale(instance, changed_at):
        return instance, False
    if buried(model, instance, pd_id, changed_at):
        return instance, False
    if instance is None:
        created = model(pd_id=pd_id, raw=dict(data), changed_at=changed_at, **fields)
        try:
            with transaction.atomic():
                created.save()
            return created, True
        except IntegrityError:
            # A concurrent writer (webhook vs. action) inserted it first: update that row under the same guard.
            instance = model.objects.select_for_update().get(pd_id=pd_id)
            if is_stale(instance, changed_at):
                return instance, False
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.raw = merged_raw(instance, data)
    if changed_at is not None:
        instance.changed_at = changed_at
    instance.save()
    return instance, True


def changed(data: Json, changed_at: datetime | None, *keys: str) -> datetime | None:
    if changed_at is not None:
        return changed_at
    for key in keys:
        value = parse_time(data.get(key))
        if value is not None:
            return value
    return None


def buried(model: type[models.Model], instance: models.Model | None, pd_id: str, changed_at: datetime | None) -> bool:
    """True when `pd_id` was deleted at or after `changed_at`, and the row is gone or only a reference stub.

    A change newer than the deletion (e.g. service.created after service.deleted) revives the record and drops
    the tombstone. Without a change time (a REST read of what exists now) the record is written as well.
    """
    # Only models PagerDuty deletes (service.deleted, admin deletes) look for a tombstone on insert, so the
    # incident path (incidents, alerts, notes, log entries) pays no extra query per new row.
    if not getattr(model, "keeps_tombstone", False) or (instance is not None and instance.changed_at is not None):
        return False
    stones = Tombstone.objects.filter(model=model._meta.label, pd_id=pd_id)
    deleted_at = stones.values_list("deleted_at", flat=True).first()
    if deleted_at is None:
        return False
    if changed_at is not None and changed_at <= deleted_at:
        return True
    stones.delete()
    return False


def mark_deleted(model: type[models.Model], pd_id: str, *, occurred_at: datetime | None = None) -> int:
    """Remove a record PagerDuty says is gone (e.g. service.deleted, or our own delete); returns how many rows went.

    A tombstone keeps the deletion time (`occurred_at`, else now), so a late webhook about an older change cannot
    bring the record back. A deletion older than the row's last change (it was re-created since) is ignored.
    """
    deleted_at = occurred_at or timezone.now()
    rows = model.objects.filter(pd_id=pd_id)
    if rows.filter(changed_at__gt=deleted_at).exists():
        return 0
    with transaction.atomic():
        deleted, _ = rows.delete()
        stone, created = Tombstone.objects.get_or_create(
            model=model._meta.label, pd_id=pd_id, defaults={"deleted_at": deleted_at}
        )
        if not created and stone.deleted_at < deleted_at:
            stone.deleted_at = deleted_at
            stone.save(update_fields=["deleted_at"])
    return deleted
