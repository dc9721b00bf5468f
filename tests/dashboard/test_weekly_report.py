"""`presence weekly-report` and the Trends page's download: one self-contained HTML file with presence report's
figures for the week, against the week before and the four-week average."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from app import cli
from app.dashboard import data, numbers, weeks
from app.weekly_report import weekly_report_html
from config.settings import Settings
from tests.dashboard.conftest import Shop
from tests.dashboard.test_pages import app, assert_clean

pytestmark = pytest.mark.slow


def report_of(capsys: pytest.CaptureFixture[str], first, last) -> dict:
    capsys.readouterr()
    assert cli.main(["report", "--from", str(first), "--to", str(last), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_weekly_report_is_one_file_with_the_weeks_figures(
    simulated_shop: Shop, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    today = data.today(data.Source.from_settings(Settings.from_env()))
    monday = weeks.monday_of(today) - timedelta(weeks=1)
    out = tmp_path / "week.html"
    assert cli.main(["weekly-report", "--week", weeks.iso_week(monday), "--out", str(out)]) == 0
    page = out.read_text()

    week = report_of(capsys, monday, monday + timedelta(days=6))
    before = report_of(capsys, monday - timedelta(weeks=1), monday - timedelta(days=1))
    assert f"Week {monday.isocalendar()[1]} · {monday:%a %d %b}" in page
    row = re.search(r"<tr><th>Visitors</th><td class='value'>([^<]+)</td><td>([^<]+)</td>", page)
    assert row is not None
    assert row.groups() == (f"{week['visitors']:,}", numbers.delta(week["visitors"], before["visitors"], "count"))
    assert f"{week['passersby']:,}" in page
    assert page.count('<img alt="" src="data:image/png;base64,') == 6  # per day, busy hours, dwell, loyalty, zones
    # Self-contained: nothing to fetch when it is opened or printed.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert "url(" not in page


def test_a_bad_week_is_refused_and_trends_offers_the_same_file(simulated_shop: Shop, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as refused:
        cli.main(["weekly-report", "--week", "2026-48", "--out", str(tmp_path / "x.html")])
    assert refused.value.code == 2
    test = app("trends")
    assert_clean(test)
    [button] = [button for button in test.get("download_button") if button.proto.label == "Weekly report (HTML)"]
    monday = weeks.monday_of_iso(test.selectbox(key="week").value)
    made = weekly_report_html(Settings.from_env(), monday)
    assert f"Week {monday.isocalendar()[1]} · {monday:%a %d %b}" in made
