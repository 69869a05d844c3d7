"""The webhook receiver as docker-compose deploys it: PostgreSQL, two uvicorn workers sharing the deliveries.

`make bench` builds one database for the whole run (SQLite unless BENCH_DATABASE_URL is set), so the receiver
benchmark measures `make run`'s deployment. This one runs that same benchmark (bench.receiver) in a child run on a
fresh PostgreSQL database (created and dropped on the server of BENCH_PG_URL, default the local one), where it
posts to both workers, and reports its figures under its own name. Under `--compare REF` each side does the same
with its own checkout, so the ratios compare like with like.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.core import Metric, NotAvailable, Result
from bench.env import BENCH_CODE_DIR, REPO

TITLE = "Webhook receiver on PostgreSQL with two uvicorn workers (docker-compose's deployment)"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def _server_url() -> str:
    url = (os.environ.get("BENCH_PG_URL") or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG_URL).strip()
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means: no PostgreSQL to measure on
        raise NotAvailable(f"no PostgreSQL at BENCH_PG_URL ({url}): {type(exc).__name__}: {exc}") from None
    return url


def run(env, result: Result, *, quick: bool = False) -> None:
    if env.pg_dbname:
        raise NotAvailable("this run is on PostgreSQL already: the receiver benchmark above is this deployment")
    url = _server_url()
    with tempfile.TemporaryDirectory(prefix="pdportal-bench-pg-") as tmp:
        output = Path(tmp) / "receiver.json"
        child_env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_CHECKOUT": str(REPO)}
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        child_env.pop("DJANGO_SETTINGS_MODULE", None)
        command = [sys.executable, "-m", "bench", "receiver", "--output", str(output), *(["--quick"] if quick else [])]
        # cwd is the directory whose `bench` is this bench code; the product comes from REPO (on PYTHONPATH).
        done = subprocess.run(command, cwd=BENCH_CODE_DIR, env=child_env)
        if not output.exists():
            raise RuntimeError(f"the receiver run on PostgreSQL wrote no results (exit status {done.returncode})")
        child = json.loads(output.read_text())["benchmarks"].get("receiver")
    if not child:
        raise RuntimeError("the receiver run on PostgreSQL reported nothing")
    result.status, result.reason = child.get("status", "ok"), child.get("reason", "")
    for metric in child.get("metrics", []):
        fields = {k: v for k, v in metric.items() if k in Metric.__dataclass_fields__}
        result.metrics.append(Metric(**{k: (float(v) if v == "inf" else v) for k, v in fields.items()}))
    result.samples.update(child.get("samples", {}))
    result.stats.update(child.get("stats", {}))
    result.notes.extend(child.get("notes", []))
