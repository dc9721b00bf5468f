"""The weekly report a manager sends or presents without opening the app: one self-contained HTML file.

The week's figures come from `presence report`'s own analysis of the stored visits, against the week before and
the mean of the four weeks before it; the charts are the dashboard's own (app.dashboard.charts), rendered to PNG
on this machine (vl-convert) and embedded, so the file makes no request when opened and prints well to PDF.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import altair as alt
import vl_convert

from analytics.filters import Filters
from analytics.report import Analysis, hour_of_week, report, site_reports
from analytics.settings import AnalyticsSettings
from app.commands.export import window_analysis
from app.dashboard import charts, numbers, tables, weeks
from config.settings import Settings
from store.analytics_settings import analytics_settings_of
from store.queries import local_day_bounds

AVERAGE_WEEKS = 4
# The figures of the report's first table: (label, key in tables.kpis, kind).
FIGURES = (
    ("Visitors", "visitors", "count"),
    ("Passersby", "passersby", "count"),
    ("Connected", "connected", "count"),
    ("Capture rate", "capture_rate", "percent"),
    ("Median dwell", "median_dwell_minutes", "minutes"),
    ("Repeat visitors", "repeat_visitors", "count"),
)


@dataclass(frozen=True)
class WeekFigures:
    """One week's report and analysis (the week is Monday to Sunday, site-local)."""

    monday: date
    report: dict[str, Any]
    analysis: Analysis


def week_figures(
    settings: Settings, analytics_settings: AnalyticsSettings, monday: date, sites: tuple[str, ...] = ()
) -> WeekFigures:
    """The week's figures at `sites` (or every site), each site's Monday to Sunday in its own time zone."""
    start, end = local_day_bounds(monday, monday + timedelta(days=6), settings.tz)
    week = (monday, monday + timedelta(days=6))
    analysis = window_analysis(
        settings, analytics_settings, start, end, Filters(sites=sites), detail=True, dates=week, per_site=True
    )
    return WeekFigures(monday, report(analysis), analysis)


def weekly_report_html(
    settings: Settings, monday: date, *, now: datetime | None = None, sites: tuple[str, ...] = ()
) -> str:
    """The whole report of the week starting on `monday` as one HTML document, of `sites` (or every site), with
    a table of each site's figures when there are several."""
    analytics_settings = analytics_settings_of(settings)
    week = week_figures(settings, analytics_settings, monday, sites)
    previous = [
        week_figures(settings, analytics_settings, monday - timedelta(weeks=n), sites)
        for n in range(1, AVERAGE_WEEKS + 1)
    ]
    before = previous[0]
    # Weeks before the first data are not weeks without visitors: the average is of the weeks that have data.
    earlier = [other for other in previous if other.report["visitors"] + other.report["passersby"] > 0]
    now_kpis, before_kpis = tables.kpis(week.report), tables.kpis(before.report)
    average = {key: _mean([tables.kpis(other.report)[key] for other in earlier]) for _, key, _ in FIGURES}
    sunday = monday + timedelta(days=6)
    title = f"Week {monday.isocalendar()[1]} · {monday:%a %d %b} – {sunday:%a %d %b %Y}"
    rows = "".join(
        f"<tr><th>{label}</th><td class='value'>{numbers.FORMATS[kind](now_kpis[key])}</td>"
        f"<td>{numbers.delta(now_kpis[key], before_kpis[key], kind) or '–'}</td>"
        f"<td>{numbers.delta(now_kpis[key], average[key], kind) or '–'}</td></tr>"
        for label, key, kind in FIGURES
    )
    figures = [
        charts.daily_visitors(tables.daily(week.report)),
        charts.hour_of_week(tables.hour_of_week(hour_of_week(week.analysis))),
        charts.dwell_buckets(tables.dwell_buckets(week.report)),
        charts.loyalty(tables.loyalty(week.report)),
    ]
    zones = tables.zone_stats(week.report)
    if len(zones):
        figures += [charts.zone_counts(zones, title="Visitors per zone"), charts.zone_dwell(zones)]
    images = "".join(f"<figure>{_image(figure)}</figure>" for figure in figures)
    made = (now or datetime.now(UTC)).astimezone(settings.tz)
    where = ", ".join(sites) if sites else "every site"
    command = f"presence report --from {monday} --to {sunday}" + "".join(f" --site '{site}'" for site in sites)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{STYLE}</style></head>
<body>
<header><h1>Weekly report</h1><p class="week">{html.escape(title)}</p>
<p class="meta">{html.escape(where)}; each site's own local week. Made {made:%a %d %b %Y %H:%M}
({html.escape(settings.timezone)}) by presence-analytics from the stored visits, as
<code>{html.escape(command)}</code> counts them.</p></header>
<table class="kpis"><thead><tr><th></th><th>This week</th><th>vs the week before</th>
<th>vs the {len(earlier)}-week average</th></tr></thead><tbody>{rows}</tbody></table>
<p class="note">A visitor is a device inside for at least 5 minutes at −75 dBm or stronger; staff are never
visitors. Peak occupancy: {week.report["peak_occupancy"]["count"]}.</p>
{_site_table(week)}
{images}
</body></html>
"""


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; margin: 2rem auto;
       max-width: 900px; padding: 0 1rem; }
h1 { margin: 0; font-size: 1.8rem; } .week { font-size: 1.3rem; margin: 0.2rem 0; }
.meta, .note { color: #555; font-size: 0.85rem; }
table.kpis { border-collapse: collapse; width: 100%; margin: 1rem 0; }
table.kpis th, table.kpis td { border-bottom: 1px solid #ddd; padding: 0.45rem 0.6rem; text-align: right; }
table.kpis th:first-child { text-align: left; } td.value { font-size: 1.2rem; font-weight: 600; }
figure { margin: 1.5rem 0; page-break-inside: avoid; break-inside: avoid; } figure img { width: 100%; }
@page { size: A4; margin: 15mm; } @media print { body { margin: 0; max-width: none; } }
"""


def _site_table(week: WeekFigures) -> str:
    """Each site's figures of the week side by side, when the report covers several sites."""
    if len(week.analysis.sites()) < 2:
        return ""
    rows = "".join(
        f"<tr><th>{html.escape(entry['site'])}</th>"
        + "".join(f"<td>{numbers.FORMATS[kind](tables.kpis(entry)[key])}</td>" for _, key, kind in FIGURES)
        + "</tr>"
        for entry in site_reports(week.analysis)
    )
    head = "".join(f"<th>{label}</th>" for label, _, _ in FIGURES)
    return f'<h2>Sites</h2><table class="kpis"><thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _image(figure: alt.TopLevelMixin) -> str:
    png = vl_convert.vegalite_to_png(charts.for_export(figure).to_json(), scale=2)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _mean(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return sum(known) / len(known) if known else None


def default_monday(today: date) -> date:
    """The last complete Monday-Sunday week before `today`."""
    return weeks.monday_of(today) - timedelta(weeks=1)
