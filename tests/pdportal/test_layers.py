"""The layers point down (DESIGN rule 8): the import-linter contract in pyproject.toml holds, with no exceptions."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_the_layers_run_from_the_console_down_to_the_platform():
    (contract,) = _config()["contracts"]
    assert contract["type"] == "layers"
    assert contract["layers"] == ["console", "incidents", "services", "accounts", "pdportal"]


def test_the_contract_excuses_no_import_of_our_own():
    assert all("ignore_imports" not in contract for contract in _config()["contracts"])


def test_no_module_imports_a_layer_above_its_own():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
