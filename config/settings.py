"""Settings for every part of the product, read from the environment and an optional TOML file.

Nothing here runs at import: `Settings.from_env()` is called by whoever starts a process (the CLI, the
receiver's application factory, the dashboard), so tests can build settings of their own.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.sites import Site, SiteConfigError, parse_sites
from devices.macs import normalize_mac

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_SITE = "default"
PSEUDONYM_KEY_FILE = "pseudonym.key"
DOTENV_FILE = ".env"  # defaults for PRESENCE_* variables (with_data_dir_defaults)
CONFIG_FILE = "presence.toml"  # the TOML file read when PRESENCE_CONFIG is unset


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


# The dwell measures (analytics.settings.DWELL_ESTIMATES, which tests/config holds equal; config imports nothing
# above it): the estimated stay, and the span heard. store.analytics_settings turns the choice into the analytics'.
DWELL_ESTIMATES = ("recurrence", "span")
DEFAULT_DWELL_ESTIMATE = "recurrence"


@dataclass(frozen=True)
class AccessPoint:
    """What the operator told us about one AP: a name for people, the site it is in, where it hangs."""

    mac: str
    name: str
    site: str
    x: float | None = None
    y: float | None = None
    # The EnGenius network / HiveManager owner it belongs to: that network's key (owner's secret) vouches for it,
    # and once a network or owner has APs listed, for those APs only (receiver: 403 otherwise).
    network: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved to plain values."""

    database_url: str
    data_dir: Path
    pseudonym_key: bytes
    run_dir: Path | None = None  # where `presence serve` keeps its scratch (metrics); None: a tmpfs (receiver.server)
    engenius_key: str | None = None
    aerohive_secret: str | None = None
    meraki_validator: str | None = None
    meraki_secret: str | None = None
    engenius_keys: Mapping[str, str] = field(default_factory=dict)  # per network_id
    aerohive_secrets: Mapping[str, str] = field(default_factory=dict)  # per ownerId
    access_points: Mapping[str, AccessPoint] = field(default_factory=dict)  # by AP MAC
    default_site: str = DEFAULT_SITE
    timezone: str = "UTC"
    sites: Mapping[str, Site] = field(default_factory=dict)  # the [[sites]] of the config, by name
    config_timezone: str | None = None  # the config's top-level timezone: sites default to it before the env's
    store_raw_macs: bool = False
    count_only: bool = False  # keep per-minute device counts only: no observations, no pseudonyms (docs/operations.md)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Headers and body of one request must arrive within this (per request, not per byte), or 408 and closed.
    request_deadline_seconds: int = 15
    sqlite_synchronous: str = "FULL"
    quarantine_days: int = 14
    retention_days: int | None = None  # `presence prune` deletes observations older than this; None: kept for ever
    refusal_limit: int = 120  # refused posts per client per minute before 429; 0 turns the limit off
    # Reverse proxies whose X-Forwarded-For names the client the refusal limit counts (addresses or networks).
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # A record last seen more than this after the POST was received is refused (the AP's clock may run a little
    # ahead of ours; a webhook reports the last minute, so anything further ahead is a wrong clock or a forgery).
    clock_skew_seconds: int = 300
    max_record_age_seconds: int | None = None  # POSTs only: a record first seen longer ago is refused; None: off
    # How a visit's dwell is measured (AnalyticsSettings.dwell_estimate): PRESENCE_DWELL_ESTIMATE, else
    # `dwell_estimate` in the TOML file. The stored visits are built with it (store.visits refuses other values).
    dwell_estimate: str = DEFAULT_DWELL_ESTIMATE

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def engenius_key_for(self, network_id: str | None) -> str | None:
        """The HMAC key for one EnGenius network: its own key if configured, else the installation-wide one."""
        if network_id is not None and network_id in self.engenius_keys:
            return self.engenius_keys[network_id]
        return self.engenius_key

    def aerohive_secret_for(self, owner_id: str | None) -> str | None:
        """The shared secret for one HiveManager owner: its own if configured, else the installation-wide one."""
        if owner_id is not None and owner_id in self.aerohive_secrets:
            return self.aerohive_secrets[owner_id]
        return self.aerohive_secret

    def engenius_configured(self) -> bool:
        return bool(self.engenius_key or self.engenius_keys)

    def aerohive_configured(self) -> bool:
        return bool(self.aerohive_secret or self.aerohive_secrets)

    def aps_of_network(self, network_id: str) -> frozenset[str]:
        """The AP MACs configured with `network = network_id` (empty: the network's key is bound to none)."""
        return frozenset(mac for mac, ap in self.access_points.items() if ap.network == network_id)

    def aps_of_owner(self, owner_id: str) -> frozenset[str]:
        """The AP MACs configured with `owner = owner_id` (empty: the owner's secret is bound to none)."""
        return frozenset(mac for mac, ap in self.access_points.items() if ap.owner == owner_id)

    def site_of(self, ap_mac: str) -> str:
        ap = self.access_points.get(ap_mac)
        return ap.site if ap else self.default_site

    def site(self, name: str) -> Site:
        """The site called `name`: as `[[sites]]` describes it, else with the defaults (the installation's time
        zone, no group, hours, day boundary or capacity)."""
        return self.sites.get(name) or Site(name=name, timezone=self.site_timezone)

    @property
    def site_timezone(self) -> str:
        """The time zone of a site that sets none: the config's top-level timezone, else PRESENCE_TIMEZONE."""
        return self.config_timezone or self.timezone

    def site_names(self) -> list[str]:
        """Every site the configuration knows: listed in [[sites]] or named by an AP, in config order."""
        names = list(self.sites)
        names += [ap.site for ap in self.access_points.values()]
        return list(dict.fromkeys(names))

    def groups(self) -> dict[str, list[str]]:
        """Each group of [[sites]] and its sites, in config order."""
        groups: dict[str, list[str]] = {}
        for site in self.sites.values():
            if site.group:
                groups.setdefault(site.group, []).append(site.name)
        return groups

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Resolve settings from environment variables (and the TOML file that `PRESENCE_CONFIG` names), over the
        data directory's `.env` and `presence.toml` when present (with_data_dir_defaults)."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("PRESENCE_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()
        env = with_data_dir_defaults(env, data_dir)
        toml = _read_toml(env.get("PRESENCE_CONFIG"))
        default_site = str(toml.get("site", DEFAULT_SITE))
        timezone = env.get("PRESENCE_TIMEZONE") or str(toml.get("timezone", "UTC"))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"PRESENCE_TIMEZONE={timezone!r} is not an IANA time zone name") from exc
        site_timezone = str(toml["timezone"]) if toml.get("timezone") else None
        if site_timezone:
            try:
                ZoneInfo(site_timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ConfigError(f"timezone = {site_timezone!r} in the config is not an IANA time zone name") from exc
        try:
            sites = parse_sites(toml.get("sites"), site_timezone or timezone)
        except SiteConfigError as exc:
            raise ConfigError(str(exc)) from exc
        if _flag(env.get("PRESENCE_COUNT_ONLY")) and _flag(env.get("PRESENCE_STORE_RAW_MACS")):
            raise ConfigError(
                "PRESENCE_COUNT_ONLY=1 stores no device identifiers, PRESENCE_STORE_RAW_MACS=1 asks for raw client "
                "MACs: set only one of them"
            )
        dwell_estimate = env.get("PRESENCE_DWELL_ESTIMATE") or str(toml.get("dwell_estimate", DEFAULT_DWELL_ESTIMATE))
        if dwell_estimate not in DWELL_ESTIMATES:
            raise ConfigError(
                f"PRESENCE_DWELL_ESTIMATE (or dwell_estimate in the config) must be one of {', '.join(DWELL_ESTIMATES)}"
                f", got {dwell_estimate!r}"
            )
        synchronous = (env.get("PRESENCE_SQLITE_SYNCHRONOUS") or "FULL").upper()
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ConfigError("PRESENCE_SQLITE_SYNCHRONOUS must be one of OFF, NORMAL, FULL, EXTRA")
        return cls(
            database_url=env.get("PRESENCE_DATABASE_URL") or f"sqlite:///{data_dir / 'presence.db'}",
            data_dir=data_dir,
            run_dir=Path(env["PRESENCE_RUN_DIR"]).expanduser() if env.get("PRESENCE_RUN_DIR") else None,
            pseudonym_key=_pseudonym_key(env.get("PRESENCE_PSEUDONYM_KEY"), data_dir),
            engenius_key=env.get("PRESENCE_ENGENIUS_KEY") or None,
            aerohive_secret=env.get("PRESENCE_AEROHIVE_SECRET") or None,
            meraki_validator=env.get("PRESENCE_MERAKI_VALIDATOR") or None,
            meraki_secret=env.get("PRESENCE_MERAKI_SECRET") or None,
            engenius_keys=_string_table(toml, "engenius", "networks"),
            aerohive_secrets=_string_table(toml, "aerohive", "owners"),
            access_points=_access_points(toml, default_site),
            default_site=default_site,
            timezone=timezone,
            sites=sites,
            config_timezone=site_timezone,
            store_raw_macs=_flag(env.get("PRESENCE_STORE_RAW_MACS")),
            count_only=_flag(env.get("PRESENCE_COUNT_ONLY")),
            max_body_bytes=_positive_int(env, "PRESENCE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            request_deadline_seconds=_positive_int(env, "PRESENCE_REQUEST_DEADLINE_SECONDS", 15),
            sqlite_synchronous=synchronous,
            quarantine_days=_positive_int(env, "PRESENCE_QUARANTINE_DAYS", 14),
            retention_days=_positive_int(env, "PRESENCE_RETENTION_DAYS", 0) or None,
            refusal_limit=_non_negative_int(env, "PRESENCE_REFUSAL_LIMIT", 120),
            trusted_proxies=_networks(env, "PRESENCE_TRUSTED_PROXIES"),
            clock_skew_seconds=_non_negative_int(env, "PRESENCE_CLOCK_SKEW_SECONDS", 300),
            max_record_age_seconds=_non_negative_int(env, "PRESENCE_MAX_RECORD_AGE_SECONDS", 0) or None,
            dwell_estimate=dwell_estimate,
        )


def read_dotenv(path: Path) -> dict[str, str]:
    """The `NAME=value` lines of a .env file (blank lines, `#` comments, `export ` and quotes allowed)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, sep, value = text.removeprefix("export ").partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{path}: {line!r} is not NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def with_data_dir_defaults(env: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """The environment over the data directory's defaults: `.env` (PRESENCE_* variables) and `presence.toml`.

    Precedence: a variable set (non-empty) in the environment > the same in data/.env > the built-in default;
    `PRESENCE_CONFIG` > data/presence.toml. Both are read only when present, so `presence demo`'s keys, time zone
    and APs reach every later command. PRESENCE_DATA_DIR itself cannot come from data/.env (it says where that is).
    """
    dotenv = data_dir / DOTENV_FILE
    merged = {
        name: value
        for name, value in (read_dotenv(dotenv) if dotenv.is_file() else {}).items()
        if name.startswith("PRESENCE_") and name != "PRESENCE_DATA_DIR"
    }
    merged.update((name, value) for name, value in env.items() if value or name not in merged)
    if not merged.get("PRESENCE_CONFIG") and (data_dir / CONFIG_FILE).is_file():
        merged["PRESENCE_CONFIG"] = str(data_dir / CONFIG_FILE)
    return merged


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name}={raw!r} is not a whole number of 0 or more")
    return int(raw)


def _networks(env: Mapping[str, str], name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma-separated list of addresses or networks (`127.0.0.1, 10.0.0.0/8, ::1`)."""
    networks = []
    for part in (env.get(name) or "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError as exc:
                raise ConfigError(f"{name}: {part.strip()!r} is not an IP address or network") from exc
    return tuple(networks)


def _read_toml(path: str | None) -> dict:
    """The config file, parsed (read only: one parse is shared by every Settings made from the same bytes)."""
    if not path:
        return {}
    try:
        with open(path, "rb") as handle:
            return _parsed_toml(handle.read())
    except FileNotFoundError as exc:
        raise ConfigError(f"PRESENCE_CONFIG names {path}, which does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


@functools.lru_cache(maxsize=8)
def _parsed_toml(content: bytes) -> dict:
    """A config's TOML parsed once per content: a chain's hundred [[sites]] and their APs took 30 ms to parse, and
    the dashboard resolves its settings several times a rerun. Keyed on the bytes, so an edit is always seen."""
    return tomllib.loads(content.decode())


def _string_table(toml: dict, section: str, table: str) -> dict[str, str]:
    values = toml.get(section, {}).get(table, {})
    if not isinstance(values, dict):
        raise ConfigError(f'[{section}.{table}] must be a table of id = "secret" pairs')
    return {str(key): str(value) for key, value in values.items()}


def _access_points(toml: dict, default_site: str) -> dict[str, AccessPoint]:
    access_points = {}
    for entry in toml.get("aps", []):
        try:
            mac = normalize_mac(str(entry["mac"]))
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"every [[aps]] entry needs a valid mac: {entry!r}") from exc
        access_points[mac] = AccessPoint(
            mac=mac,
            name=str(entry.get("name", mac)),
            site=str(entry.get("site", default_site)),
            x=float(entry["x"]) if "x" in entry else None,
            y=float(entry["y"]) if "y" in entry else None,
            network=str(entry["network"]) if "network" in entry else None,
            owner=str(entry["owner"]) if "owner" in entry else None,
        )
    return access_points


def _pseudonym_key(configured: str | None, data_dir: Path) -> bytes:
    """The key behind device pseudonyms: configured, or generated once and kept beside the database.

    A new key is written to a private temporary file and then hard-linked into place: the link either
    appears whole or fails because another worker won the race, whose key we then read. Every process of an
    installation therefore pseudonymizes the same MAC the same way.
    """
    if configured:
        return configured.encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / PSEUDONYM_KEY_FILE
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".pseudonym-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"{path} is empty; delete it to generate a new key")
    return key.encode()
