"""The list's CSV download holds exactly the rows the filtered list shows (served by uvicorn, streamed)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from pdportal.webui import csv_safe
from tests.e2e.portal import signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]

ROWS = """() => Array.from(document.querySelectorAll('#incident-table tbody tr[data-incident]')).map(tr => [
  tr.querySelector('.col-num').innerText.trim(),
  tr.dataset.incident,
  tr.querySelector('.col-title').innerText.trim(),
  tr.querySelector('.col-status [class^="status-"]').innerText.trim(),
  tr.querySelector('.col-urgency').innerText.trim(),
])"""


def test_the_csv_equals_the_filtered_list(chromium, portal):
    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/?per_page=250")
        # The home ticks the open statuses (triggered and acknowledged): keep triggered only.
        page.locator("#incident-filters input[name=status][value=triggered]").check()
        page.locator("#incident-filters input[name=status][value=acknowledged]").uncheck()
        page.locator("#incident-filters input[name=urgency][value=high]").check()
        with page.expect_navigation():
            page.locator("#incident-filters button[type=submit]", has_text="Filter").click()
        shown = page.evaluate(ROWS)
        total = page.locator("#incident-count").inner_text()
        assert shown and total.endswith(f"of {len(shown)}"), "all matching rows fit on one page of 250"
        assert {row[3] for row in shown} == {"triggered"} and {row[4] for row in shown} == {"high"}

        with page.expect_download() as download:
            page.locator("#export-csv").click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        exported = [
            [r["number"], r["id"], r["title"], r["status"], r["urgency"]] for r in csv.DictReader(io.StringIO(text))
        ]
        # The page shows titles as they are; the CSV guards a leading = + - @ against spreadsheet formulas.
        assert exported == [[csv_safe(cell) for cell in row] for row in shown]
        assert download.value.suggested_filename == "incidents.csv"
    finally:
        context.close()
