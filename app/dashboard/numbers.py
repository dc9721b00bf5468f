"""How the dashboard and the weekly report write numbers and changes: one place, so they always agree."""

from __future__ import annotations


def count(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f} %"


def minutes(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} min"


FORMATS = {"count": count, "percent": percent, "minutes": minutes}


def delta(current: float | None, previous: float | None, kind: str) -> str | None:
    """The change against the previous period as st.metric shows it (None hides the arrow)."""
    if current is None or previous is None:
        return None
    difference = current - previous
    if kind == "percent":
        shown = f"{difference * 100:+.1f} pp"
    elif kind == "minutes":
        shown = f"{difference:+.1f} min"
    else:
        shown = f"{difference:+,.0f}"
    return "±" + shown[1:] if unchanged(shown) else shown


def unchanged(change: str | None) -> bool:
    """True for a change that shows as zero ("±0", "+0.0 pp", "-0.0 min"): no arrow and no colour for it."""
    if change is None:
        return False
    digits = "".join(char for char in change if char.isdigit())
    return bool(digits) and int(digits) == 0
