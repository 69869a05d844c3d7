"""`python -m bench [name ...] [--only a,b] [--compare REF]`: run the benchmarks, print the table, write
bench/results.json. BENCHMARKS is the registry: each module has TITLE and run(env, result, quick=...), and runs
against the checkout bench.env.REPO points at (this one, or a worktree of REF under --compare)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.core import Metric, NotAvailable, Result, render_markdown, render_table

# Run order matters only for speed: later benchmarks reuse the workers and sandbox that earlier ones started.
BENCHMARKS = {
    "list_page": "bench.list_page",
    "screen": "bench.screen",
    "receiver": "bench.receiver",
    "receiver_pg": "bench.receiver_pg",
    "sse": "bench.sse",
    "budget": "bench.budget",
    "sync": "bench.sync",
    "insights": "bench.insights",
}
ALIASES = {
    "receiver-pg": "receiver_pg",
    "list": "list_page",
    "incident_list": "list_page",
    "webhook_to_screen": "screen",
    "api_budget": "budget",
}
RESULTS = Path(__file__).resolve().parent / "results.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--only", action="append", default=[], help="comma-separated benchmarks to run")
    parser.add_argument("--quick", action="store_true", help="shorter loads (a smoke run; figures are noisier)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work dir (logs, databases)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--full-sync", action="store_true", help="sync: also time the whole incidents.sync.sync_all (minutes)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also write pyinstrument profiles of the in-process paths (.run/)"
    )
    parser.add_argument(
        "--update-readme", action="store_true", help="replace the table in README.md's Performance section"
    )
    parser.add_argument(
        "--readme-only", action="store_true", help="rewrite README.md's table from results.json without running"
    )
    parser.add_argument(
        "--compare",
        metavar="REF",
        help="also run the same benchmarks on a git worktree of REF in this run, and print ours / theirs",
    )
    return parser.parse_args(argv)


def _selected(args: argparse.Namespace) -> list[str]:
    wanted = [*args.names, *(n for item in args.only for n in item.split(",") if n)]
    if not wanted:
        return list(BENCHMARKS)
    out = []
    for name in wanted:
        name = ALIASES.get(name.strip(), name.strip())
        if name not in BENCHMARKS:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        if name not in out:
            out.append(name)
    return sorted(out, key=list(BENCHMARKS).index)


def _jsonable(value):
    """JSON has no infinity: a ratio against zero cost is written as the string "inf"."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _write(path: Path, results: list[Result], meta: dict) -> None:
    """Merge into the existing file so `python -m bench sync` keeps the other benchmarks' latest figures."""
    document: dict = {}
    if path.exists():
        try:
            document = json.loads(path.read_text())
        except ValueError:
            document = {}
    benchmarks = document.get("benchmarks", {}) if isinstance(document.get("benchmarks"), dict) else {}
    for result in results:
        benchmarks[result.name] = _jsonable({**result.as_dict(), "run": meta})
    ordered = {name: benchmarks[name] for name in BENCHMARKS if name in benchmarks}
    document = {"latest_run": meta, "benchmarks": ordered}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False, default=str) + "\n")
    tmp.replace(path)


README = Path(__file__).resolve().parent.parent / "README.md"
TABLE_START = "<!-- bench:table:start -->"
TABLE_END = "<!-- bench:table:end -->"


def update_readme(results: list[Result], meta: dict) -> bool:
    """Rewrite only the lines between the Performance section's markers (the rest of the README is shared)."""
    text = README.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return False
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    when = meta["started_at"].replace("T", " ").replace("+00:00", " UTC")
    caption = (
        f"Measured {when} on {meta['machine']['cpus']} cores, {meta.get('database')} and {meta.get('redis')} "
        f"Redis, load average {meta['load_average_at_start'][0]} at the start ({meta['duration_s']:.0f} s run)."
    )
    README.write_text(f"{head}{TABLE_START}\n{caption}\n\n{render_markdown(results)}\n{TABLE_END}{tail}")
    return True


def _load(path: Path) -> tuple[list[Result], dict]:
    """Results and run facts back from results.json (the latest figures of each benchmark)."""
    document = json.loads(path.read_text())
    results = []
    for entry in document.get("benchmarks", {}).values():
        fields = {k: v for k, v in entry.items() if k in Result.__dataclass_fields__ and k != "metrics"}
        metrics = [Metric(**{k: (float(v) if v == "inf" else v) for k, v in m.items()}) for m in entry["metrics"]]
        results.append(Result(**fields, metrics=metrics))
    return results, document.get("latest_run", {})


def _stop_on_sigterm(signum, frame):
    # `timeout` and CI send SIGTERM: unwind through the finally blocks so servers stop and databases drop.
    raise KeyboardInterrupt(f"signal {signum}")


def update_readme_comparison(ours: list[Result], theirs: list[Result], meta: dict) -> bool:
    """The README table with the reference columns: every figure absolute and as a ratio to REF, one run."""
    from bench import compare

    text = README.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return False
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    when = meta["started_at"].replace("T", " ").replace("+00:00", " UTC")
    ref = meta["compare"]["label"]
    loads = ", ".join(f"{name} {value}" for name, value in meta.get("load_averages", {}).items())
    caption = (
        f"Measured {when} on {meta['machine']['cpus']} cores ({meta['database']}, {meta['redis']} Redis), "
        f"`--compare {meta['compare']['ref']}` ({ref}) in the same run, {meta['duration_s']:.0f} s; "
        f"load average (1 min) at each start: {loads}."
    )
    table = compare.render_markdown(ours, theirs, ref)
    README.write_text(f"{head}{TABLE_START}\n{caption}\n\n{table}\n{TABLE_END}{tail}")
    return True


def run_compare(args: argparse.Namespace) -> int:
    """Each selected benchmark on REF's worktree, then on this checkout (children of this process)."""
    from bench import compare

    names = _selected(args)
    extra = [flag for flag, on in (("--quick", args.quick), ("--full-sync", args.full_sync)) if on]
    started = time.monotonic()
    meta = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "quick": args.quick,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "load_averages": {},
    }
    with compare.Checkouts(args.compare) as sides:
        label = sides.short
        meta["compare"] = {"ref": args.compare, "commit": sides.commit, "label": label}
        outputs = {"theirs": sides.tmp / "theirs.json", "ours": sides.tmp / "ours.json"}
        for name in names:
            for side, checkout in (("theirs", sides.theirs), ("ours", compare.HERE)):
                meta["load_averages"][f"{name} {label if side == 'theirs' else 'ours'}"] = round(os.getloadavg()[0], 2)
                print(f"\n#### {name} on {label if side == 'theirs' else 'this checkout'} ({checkout})", flush=True)
                sides.run(checkout, [name], outputs[side], extra)
        ours, ours_meta = _load(outputs["ours"]) if outputs["ours"].exists() else ([], {})
        theirs, _ = _load(outputs["theirs"]) if outputs["theirs"].exists() else ([], {})
    meta["database"], meta["redis"] = ours_meta.get("database", "?"), ours_meta.get("redis", "?")
    meta["duration_s"] = round(time.monotonic() - started, 1)
    meta["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print(compare.render(ours, theirs, label))
    start_load, end_load = meta["load_average_at_start"][0], meta["load_average_at_end"][0]
    print(f"\nTotal {meta['duration_s']} s on {os.cpu_count()} cores (load average {start_load} -> {end_load})")
    _write(args.output, ours, meta)
    document = json.loads(args.output.read_text())
    document["compare"] = {**meta["compare"], "benchmarks": {r.name: _jsonable(r.as_dict()) for r in theirs}}
    args.output.write_text(json.dumps(document, indent=1, ensure_ascii=False, default=str) + "\n")
    print(f"Raw samples of both sides: {args.output}")
    if args.update_readme:
        done = update_readme_comparison(ours, theirs, meta)
        print("README.md table updated" if done else "README.md has no bench table markers")
    return 0


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    args = _parse(argv)
    if args.compare:
        return run_compare(args)
    if args.readme_only:
        results, meta = _load(args.output)
        print(render_table(results))
        print("README.md table updated" if update_readme(results, meta) else "README.md has no bench table markers")
        return 0
    if args.list:
        for name, module in BENCHMARKS.items():
            print(f"{name:10} {importlib.import_module(module).TITLE}")
        return 0
    names = _selected(args)
    started = time.monotonic()
    from bench.env import BenchEnv

    env = BenchEnv(keep=args.keep)
    results: list[Result] = []
    meta = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "quick": args.quick,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        try:
            env.setup()
        except Exception as exc:
            traceback.print_exc()
            reason = f"the bench environment could not be set up: {type(exc).__name__}: {exc}".splitlines()[0]
            names_left, names = names, []
            for name in names_left:
                module = importlib.import_module(BENCHMARKS[name])
                results.append(Result(name=name, title=module.TITLE, status="not available", reason=reason[:300]))
        meta["database"] = env.database_kind
        meta["redis"] = env.redis_kind
        for name in names:
            module = importlib.import_module(BENCHMARKS[name])
            result = Result(name=name, title=module.TITLE)
            t0 = time.monotonic()
            print(f"\n== {name}: {module.TITLE}", flush=True)
            try:
                env.profile = args.profile
                env.full_sync = args.full_sync
                module.run(env, result, quick=args.quick)
            except NotAvailable as exc:
                result.status, result.reason = "not available", str(exc)
            except Exception as exc:
                result.status, result.reason = "error", f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                result.notes.append(traceback.format_exc())
                traceback.print_exc()
            result.duration_s = round(time.monotonic() - t0, 1)
            print(f"   {result.status} in {result.duration_s} s", flush=True)
            for note in result.notes:
                if not note.startswith("Traceback"):
                    print(f"   note: {note}", flush=True)
            results.append(result)
    finally:
        env.close()
    meta["duration_s"] = round(time.monotonic() - started, 1)
    meta["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print(render_table(results))
    if args.markdown:
        print()
        print(render_markdown(results))
    missed = [(r.name, m) for r in results for m in r.missed()]
    if missed:
        print("\nTargets missed:")
        for name, m in missed:
            print(f"  {name}: {m.metric} = {m.shown_value()} (target {m.target}){' - ' + m.note if m.note else ''}")
    start_load, end_load = meta["load_average_at_start"][0], meta["load_average_at_end"][0]
    print(f"\nTotal {meta['duration_s']} s on {os.cpu_count()} cores (load average {start_load} -> {end_load})")
    print(f"Raw samples, medians and p95s: {args.output}")
    _write(args.output, results, meta)
    if args.update_readme:
        print("README.md table updated" if update_readme(results, meta) else "README.md has no bench table markers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
