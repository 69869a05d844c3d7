"""Result records, statistics and the printed table shared by every benchmark."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROFILE_DIR = Path(__file__).resolve().parent.parent / ".run" / "bench-profiles"


def profile(name: str, fn: Callable[[], object], *, repeat: int = 20) -> Path | None:
    """Run `fn` `repeat` times under pyinstrument and write a text profile; None when pyinstrument is missing."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return None
    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        for _ in range(repeat):
            fn()
    finally:
        profiler.stop()
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    path = PROFILE_DIR / f"{name}.txt"
    path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    return path


class NotAvailable(Exception):
    """A benchmark's dependency (a view, a module, a browser) is not built or not installed yet."""


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The pct-th percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean, median, p95, p99 and max of a sample (None when empty)."""
    if not values:
        return {"n": 0, "mean": None, "median": None, "p95": None, "p99": None, "max": None}
    return {
        "n": len(values),
        "mean": round(statistics.fmean(values), 3),
        "median": round(statistics.median(values), 3),
        "p95": round(percentile(values, 95), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


@dataclass
class Metric:
    """One line of the table: a figure, its target, and how it compares to what a user would pick instead."""

    metric: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""
    met: bool | None = None
    peer: str = ""
    ratio: float | None = None
    note: str = ""
    # "lower" or "higher" is better: how `--compare` reads ours / theirs (empty: not compared).
    better: str = ""

    def shown_value(self) -> str:
        if self.value is None:
            return "-"
        if isinstance(self.value, float):
            text = f"{self.value:,.1f}" if abs(self.value) >= 10 else f"{self.value:.2f}"
        else:
            text = f"{self.value:,}" if isinstance(self.value, int) else str(self.value)
        return f"{text} {self.unit}".strip()


@dataclass
class Result:
    """Everything one benchmark measured: table lines, raw samples and notes."""

    name: str
    title: str
    status: str = "ok"  # ok | not available | error
    reason: str = ""
    metrics: list[Metric] = field(default_factory=list)
    samples: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def add(self, *args: Any, **kwargs: Any) -> Metric:
        metric = Metric(*args, **kwargs)
        self.metrics.append(metric)
        return metric

    def sample(self, key: str, values: Iterable[float], *, digits: int = 3) -> dict[str, Any]:
        """Keep the raw values (rounded) and their summary in results.json; returns the summary."""
        values = [round(float(v), digits) for v in values]
        self.samples[key] = values
        self.stats[key] = summary(values)
        return self.stats[key]

    def missed(self) -> list[Metric]:
        return [m for m in self.metrics if m.met is False]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """How many times better ours is (theirs / ours for costs such as time); None when unknown."""
    if ours is None or theirs is None:
        return None
    if ours <= 0:
        return math.inf if theirs > 0 else None
    return round(theirs / ours, 1)


TIMES = "\N{MULTIPLICATION SIGN}"
MARKS = {True: " \N{CHECK MARK}", False: " \N{BALLOT X}", None: ""}


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _ratio_text(value: float | None) -> str:
    if value is None:
        return ""
    return "\N{INFINITY}" if math.isinf(value) else f"{value:,.1f}{TIMES}"


def _rows(results: Sequence[Result]) -> list[list[str]]:
    rows: list[list[str]] = []
    for result in results:
        if result.status != "ok" and not result.metrics:
            rows.append([result.name, f"{result.status}: {result.reason}", "", "", "", ""])
            continue
        for i, m in enumerate(result.metrics):
            ratio_text = _ratio_text(m.ratio)
            name = result.name if i == 0 else ""
            rows.append([name, m.metric, m.shown_value(), (m.target + MARKS[m.met]).strip(), m.peer, ratio_text])
        if result.status != "ok":
            rows.append(["", f"{result.status}: {result.reason}", "", "", "", ""])
    return rows


HEADERS = ["benchmark", "figure", "ours", "target", "peer", "ratio"]


def render_table(results: Sequence[Result]) -> str:
    """A plain-text table: benchmark, figure, value, target (with a check or a cross), peer and ratio."""
    rows = _rows(results)
    limits = [10, 52, 22, 24, 34, 9]
    widths = [min(max([len(h)] + [len(r[i]) for r in rows]), limits[i]) for i, h in enumerate(HEADERS)]
    out = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)), "  ".join("-" * w for w in widths)]
    for row in rows:
        if not any(row[2:]):  # a "not available: <reason>" line is shown in full
            out.append("  ".join([row[0].ljust(widths[0]), row[1]]))
            continue
        out.append("  ".join(_cell(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(out)


def render_markdown(results: Sequence[Result]) -> str:
    """The same table in Markdown, for the README's Performance section."""
    out = ["| " + " | ".join(h.capitalize() for h in HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
    for row in _rows(results):
        out.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
    return "\n".join(out)
