"""Fast, complete pagination: concurrent offset pages, de-duplication, and time windows past 10,000 records."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import PagerDutyError

if TYPE_CHECKING:
    from .client import PagerDutyClient

PAGE_SIZE = 100  # PagerDuty's maximum `limit`.
MAX_OFFSET_WINDOW = 10_000  # PagerDuty refuses offset + limit > 10,000.
MIN_WINDOW = timedelta(seconds=1)

Progress = Callable[[int, int], None]


class TooManyRecords(PagerDutyError):
    """More than 10,000 matches and no time range to split: the caller must pass `since` and `until`."""


def list_key(path: str) -> str:
    """The list key of a list endpoint: the last path segment ('/incidents/P1/alerts' -> 'alerts')."""
    return path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """A time as PagerDuty documents its query parameters: UTC, ending in `Z` (2026-11-20T10:00:00Z)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Pager:
    """One pagination run: remembers what was seen so every record is yielded exactly once."""

    def __init__(
        self,
        client: PagerDutyClient,
        path: str,
        params: Mapping[str, Any] | None,
        *,
        concurrency: int,
        progress: Progress | None,
        key: str | None,
        page_size: int,
        window_params: tuple[str, str],
    ) -> None:
        self.client = client
        self.path = path
        base = dict(params or {})
        for name in ("offset", "limit", "total"):
            base.pop(name, None)
        self.params = base
        self.concurrency = max(int(concurrency), 1)
        self.progress = progress
        self.key = key or list_key(client.path_of(path) if hasattr(client, "path_of") else path)
        self.page_size = max(1, min(int(page_size), PAGE_SIZE))
        self.since_name, self.until_name = window_params
        self.seen: set[Any] = set()
        self.fetched = 0
        self.total = 0

    def _get(self, params: Mapping[str, Any], offset: int, *, total: bool = False) -> dict[str, Any]:
        query = {**params, "limit": self.page_size, "offset": offset}
        if total:
            query["total"] = True
        body = self.client.get(self.path, query)
        if not isinstance(body, dict):
            raise PagerDutyError("PagerDuty answered a list request with an unexpected body", path=self.path)
        return body

    def _records(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        records = body.get(self.key)
        if records is None:
            raise PagerDutyError(f"PagerDuty's answer has no '{self.key}' list", method="GET", path=self.path)
        return list(records)

    def _fresh(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Drop records already yielded (they shift to the next page when new ones arrive meanwhile)."""
        out = []
        for record in records:
            rid = record.get("id") if isinstance(record, dict) else None
            if rid is not None:
                if rid in self.seen:
                    continue
                self.seen.add(rid)
            out.append(record)
        self.fetched += len(out)
        if self.progress is not None:
            self.progress(self.fetched, max(self.total, self.fetched))
        return out

    def run(self) -> Iterator[list[dict[str, Any]]]:
        first = self._get(self.params, 0, total=True)
        total = first.get("total")
        if total is None:
            yield from self._sequential(self.params, first)
            return
        self.total = int(total)
        if self.total <= MAX_OFFSET_WINDOW:
            yield from self._concurrent(self.params, first, self.total)
            return
        since = self.params.get(self.since_name)
        until = self.params.get(self.until_name)
        if since is None or until is None:
            raise TooManyRecords(
                f"{self.path} matches {self.total} records, more than PagerDuty's 10,000 offset limit; "
                f"pass '{self.since_name}' and '{self.until_name}' so the range can be split into time windows",
                method="GET",
                path=self.path,
            )
        yield from self._windows(_parse_time(since), _parse_time(until), first)

    def _sequential(self, params: Mapping[str, Any], first: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Classic `more`-driven paging for endpoints that do not report a total."""
        body, offset = first, 0
        while True:
            records = self._records(body)
            yield self._fresh(records)
            if not body.get("more") or not records:
                return
            offset += len(records)
            if offset + self.page_size > MAX_OFFSET_WINDOW:
                raise TooManyRecords(
                    f"{self.path} has more than 10,000 records; narrow the query (for example with since/until)",
                    method="GET",
                    path=self.path,
                )
            body = self._get(params, offset)

    def _concurrent(
        self, params: Mapping[str, Any], first: dict[str, Any], total: int
    ) -> Iterator[list[dict[str, Any]]]:
        """All remaining pages at once (bounded by `concurrency` and the request budget), yielded in order."""
        yield self._fresh(self._records(first))
        last_offset = max(0, min(total, MAX_OFFSET_WINDOW) - 1) // self.page_size * self.page_size
        offsets = list(range(self.page_size, last_offset + 1, self.page_size))
        last_body = first
        if offsets:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(offsets))) as pool:
                # Each page runs in a copy of this context: a person's request deadline bounds the pool's calls too.
                futures = [pool.submit(contextvars.copy_context().run, self._get, params, offset) for offset in offsets]
                try:
                    for future in futures:
                        last_body = future.result()
                        yield self._fresh(self._records(last_body))
                finally:
                    for future in futures:
                        future.cancel()
        # Records created while paging push others past the last planned page: keep going while PagerDuty says so.
        offset = offsets[-1] if offsets else 0
        while last_body.get("more") and self._records(last_body):
            offset += self.page_size
            if offset + self.page_size > MAX_OFFSET_WINDOW:
                break
            last_body = self._get(params, offset)
            yield self._fresh(self._records(last_body))

    def _windows(self, since: datetime, until: datetime, first: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Bisect [since, until) until each window holds at most 10,000 records, oldest window first."""
        pending: list[tuple[datetime, datetime, dict[str, Any] | None]] = [(since, until, first)]
        while pending:
            start, end, body = pending.pop(0)
            params = {**self.params, self.since_name: format_time(start), self.until_name: format_time(end)}
            if body is None:
                body = self._get(params, 0, total=True)
            total = body.get("total")
            total = int(total) if total is not None else None
            if total is not None and total > MAX_OFFSET_WINDOW:
                if end - start <= MIN_WINDOW:
                    raise TooManyRecords(
                        f"{self.path} has {total} records within one second ({format_time(start)}); "
                        "cannot split further",
                        method="GET",
                        path=self.path,
                    )
                middle = start + (end - start) / 2
                pending[0:0] = [(start, middle, None), (middle, end, None)]
                continue
            if total is None:
                yield from self._sequential(params, body)
            else:
                yield from self._concurrent(params, body, total)


def iter_pages(
    client: PagerDutyClient,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    concurrency: int = 8,
    progress: Progress | None = None,
    key: str | None = None,
    page_size: int = PAGE_SIZE,
    window_params: tuple[str, str] = ("since", "until"),
) -> Iterator[list[dict[str, Any]]]:
    """Yield the pages of a list endpoint in order, each record exactly once (pages may be shorter after de-dup).

    The first request asks for `total`; the remaining offsets are then fetched concurrently. Past 10,000 records
    the `since`/`until` range from `params` is split into windows. `progress(fetched, total)` runs after each page.
    """
    pager = _Pager(
        client,
        path,
        params,
        concurrency=concurrency,
        progress=progress,
        key=key,
        page_size=page_size,
        window_params=window_params,
    )
    return pager.run()


def list_all(
    client: PagerDutyClient,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    concurrency: int = 8,
    progress: Progress | None = None,
    key: str | None = None,
    page_size: int = PAGE_SIZE,
    window_params: tuple[str, str] = ("since", "until"),
) -> list[dict[str, Any]]:
    """Every record of a list endpoint, in PagerDuty's order, without duplicates (see iter_pages)."""
    records: list[dict[str, Any]] = []
    for page in iter_pages(
        client,
        path,
        params,
        concurrency=concurrency,
        progress=progress,
        key=key,
        page_size=page_size,
        window_params=window_params,
    ):
        records.extend(page)
    return records
