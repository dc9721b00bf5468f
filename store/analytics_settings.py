"""The analytics' settings an installation's configuration asks for.

config holds what the operator set (plain values, below every other layer); analytics says what they mean. This
is where the two meet, as store.sites.clocks_of does for the sites' clocks."""

from __future__ import annotations

from analytics.settings import AnalyticsSettings
from config.settings import Settings


def analytics_settings_of(settings: Settings) -> AnalyticsSettings:
    """The analytics' defaults with what the configuration sets of them: the dwell measure
    (PRESENCE_DWELL_ESTIMATE, or dwell_estimate in the TOML file)."""
    return AnalyticsSettings(dwell_estimate=settings.dwell_estimate)
