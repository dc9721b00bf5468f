"""The Trends page's weeks: Monday to Sunday, site-local, named by their ISO week ("2026-W48") in the URL.

A manager presents a whole week, so the page opens on the last complete one (not the sidebar's last seven
days, which on a Tuesday would end in a one-day week); the week still running is offered as "this week so far".
"""

from __future__ import annotations

from datetime import date, timedelta

from app.dashboard.tables import monday_of


def iso_week(monday: date) -> str:
    """"2026-W48" for the week starting on `monday`."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def monday_of_iso(name: str) -> date:
    """The Monday of an ISO week named like "2026-W48"; raises ValueError for anything else."""
    return date.fromisocalendar(int(name[:4]), int(name.split("-W", 1)[1]), 1)


def weeks_with_data(first_day: date, last_day: date, today: date) -> list[date]:
    """The Mondays of every week from the first day with data to the last (or today's week), newest first."""
    last = min(max(last_day, first_day), today)
    mondays = []
    monday = monday_of(last)
    while monday >= monday_of(first_day):
        mondays.append(monday)
        monday -= timedelta(weeks=1)
    return mondays


def default_week(mondays: list[date], today: date) -> date:
    """The last complete week with data, or the week so far when there is none yet."""
    complete = [monday for monday in mondays if monday + timedelta(days=6) < today]
    return complete[0] if complete else mondays[0]


def week_end(monday: date, today: date) -> date:
    """The last day of the week that has happened: Sunday, or yesterday-or-today for the week still running."""
    return min(monday + timedelta(days=6), today)


def label(monday: date, today: date) -> str:
    """"Week 48 · Mon 23 – Sun 29 Nov 2026", or "This week so far · Mon 30 Nov – Tue 01 Dec 2026"."""
    last = week_end(monday, today)
    span = f"{monday:%a %d %b} – {last:%a %d %b %Y}"
    if monday == monday_of(today):
        return f"This week so far · {span}"
    return f"Week {monday.isocalendar()[1]} · {span}"
