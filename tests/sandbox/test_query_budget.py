"""Sandbox list endpoints must not do a query per row (10,000 incidents must page quickly)."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.sandbox_server import REPO, _env

pytestmark = pytest.mark.sandbox


def test_list_endpoints_cost_the_same_queries_for_20_and_100_rows(sandbox, tmp_path):
    db = tmp_path / "copy.sqlite3"
    shutil.copyfile(sandbox.template_path, db)
    result = subprocess.run(
        [sys.executable, "-m", "tests.sandbox.query_counts", str(db)],
        cwd=REPO,
        env=_env(f"sqlite:///{db}"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    growing = {url: c for url, c in counts.items() if c["100"] > c["20"]}
    assert not growing, f"queries grow with the page size: {growing}"
