"""`--compare REF`: the same benchmarks, driven by this checkout's bench code, on a git worktree of REF and on this
checkout, one after the other in one run (same machine, same data, same load), then ours / theirs per figure.

Each side runs in its own child process (`python -m bench NAME --output ...`) whose product code comes from its
checkout (BENCH_CHECKOUT, first on PYTHONPATH) and whose bench code is ours (BENCH_CODE_DIR holds only a link to
this bench package). Benchmarks alternate REF, ours, so a change in the machine's load hits both sides alike.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.core import TIMES, Result

BENCH_DIR = Path(__file__).resolve().parent
HERE = BENCH_DIR.parent


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(HERE), *args], check=True, capture_output=True, text=True).stdout.strip()


class Checkouts:
    """A detached worktree of REF and a launcher directory whose only entry is a link to this bench package."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
        self.short = self.commit[:7]
        self.tmp = Path(tempfile.mkdtemp(prefix="pdportal-bench-compare-"))
        self.theirs = self.tmp / "checkout"
        self.launcher = self.tmp / "code"

    def __enter__(self) -> Checkouts:
        _git("worktree", "add", "--detach", str(self.theirs), self.commit)
        self.launcher.mkdir()
        (self.launcher / "bench").symlink_to(BENCH_DIR, target_is_directory=True)
        if (HERE / ".venv").exists() and not (self.theirs / ".venv").exists():
            (self.theirs / ".venv").symlink_to((HERE / ".venv").resolve(), target_is_directory=True)
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            _git("worktree", "remove", "--force", str(self.theirs))
        with contextlib.suppress(Exception):
            _git("worktree", "prune")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, checkout: Path, names: Sequence[str], output: Path, extra: Sequence[str]) -> int:
        env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
        env.update(
            {
                "BENCH_CHECKOUT": str(checkout),
                "BENCH_CODE_DIR": str(self.launcher),
                "PYTHONPATH": str(checkout),
            }
        )
        # cwd is the launcher: `-m bench` finds our bench there, the product on PYTHONPATH (the checkout).
        command = [sys.executable, "-m", "bench", *names, "--output", str(output), *extra]
        return subprocess.run(command, cwd=self.launcher, env=env).returncode


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def ratio_text(ours: float | None, theirs: float | None, better: str) -> str:
    """ours / theirs, marked ✓ when ours is at least as good (lower or higher, as the metric says)."""
    if ours is None or theirs is None or (ours == 0 and theirs == 0):
        return ""
    value = (math.inf if ours > 0 else 1.0) if theirs == 0 else ours / theirs
    text = "∞" if math.isinf(value) else (f"{value:,.2f}{TIMES}" if value < 10 else f"{value:,.1f}{TIMES}")
    if better == "lower":
        text += " ✓" if ours <= theirs else " ✗"
    elif better == "higher":
        text += " ✓" if ours >= theirs else " ✗"
    return text


def rows(ours: Sequence[Result], theirs: Sequence[Result]) -> list[list[str]]:
    """benchmark, figure, ours, target, theirs, ours/theirs: one line per figure of ours."""
    by_name = {r.name: {m.metric: m for m in r.metrics} for r in theirs}
    status = {r.name: r for r in theirs}
    out: list[list[str]] = []
    for result in ours:
        if result.status != "ok" and not result.metrics:
            out.append([result.name, f"{result.status}: {result.reason}", "", "", "", ""])
            continue
        ref = by_name.get(result.name, {})
        for i, m in enumerate(result.metrics):
            other = ref.get(m.metric)
            theirs_text = other.shown_value() if other is not None else ""
            if other is None and result.name in status and status[result.name].status != "ok" and i == 0:
                theirs_text = status[result.name].status
            ratio = ratio_text(_number(m.value), _number(other.value) if other else None, m.better)
            target = (m.target + {True: " ✓", False: " ✗", None: ""}[m.met]).strip()
            out.append([result.name if i == 0 else "", m.metric, m.shown_value(), target, theirs_text, ratio])
    return out


def render(ours: Sequence[Result], theirs: Sequence[Result], ref: str) -> str:
    headers = ["benchmark", "figure", "ours", "target", ref, "ours/ref"]
    table = rows(ours, theirs)
    limits = [10, 60, 22, 16, 22, 10]
    widths = [min(max([len(h)] + [len(r[i]) for r in table]), limits[i]) for i, h in enumerate(headers)]

    def cell(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(cell(c, w).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    return "\n".join(lines)


def render_markdown(ours: Sequence[Result], theirs: Sequence[Result], ref: str) -> str:
    headers = ["Benchmark", "Figure", "Ours", "Target", ref, "Ours / " + ref]
    out = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    out += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows(ours, theirs)]
    return "\n".join(out)
