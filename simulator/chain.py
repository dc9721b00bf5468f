"""A chain of simulated shops: the default shop repeated, each copy a site of its own.

Site `number` (0, 1, ...) is called "Shop 001", "Shop 002", ...; its APs keep the default shop's names, floor
positions and vendor OUIs, with the site number in the MAC's fourth and fifth octets (so up to 65,536 sites); its
people come from a seed of their own (the chain's seed + the site number); and every third site from the second
on is in another time zone (New York, Los Angeles, Tokyo in turn), the rest in the chain's base zone. Each shop's
people follow its local opening hours (simulator.people), so a chain spread over time zones is busy at different
UTC hours. Every site has a group named after its region ("US East", "Europe", ...), for subtotals and filters.

`config_toml` writes the chain out as a PRESENCE_CONFIG file ([[sites]] and [[aps]]): an observation's site is
looked up from its AP's MAC when it is stored, so that config must be in place before the traffic is.
`ChainSimulation` runs every site's simulation side by side, one interval (minute) at a time, for a live run or a
receiver over HTTP; a backfill into the database stores each site on its own (simulator.backfill.backfill_shops).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from simulator import people
from simulator.layout import Shop, default_shop
from simulator.render import DEFAULT_MERAKI_NETWORK_ID, DEFAULT_NETWORK_ID, DEFAULT_OWNER_ID
from simulator.run import Interval, Report, Simulation, simulate
from simulator.truth import Visit

TEMPLATE = default_shop()
APS_PER_SHOP = len(TEMPLATE.aps)
MAX_SITES = 1 << 16  # the site number fills two octets of each AP's MAC
# Where the sites not in the base time zone are, in turn; every OTHER_ZONE_EVERY-th site (from site 1) is one.
OTHER_TIMEZONES = ("America/New_York", "America/Los_Angeles", "Asia/Tokyo")
OTHER_ZONE_EVERY = 3
# A site's group: its time zone's region, named as a retail chain names its districts.
GROUPS = {"America/New_York": "US East", "America/Los_Angeles": "US West", "Asia/Tokyo": "Asia Pacific"}
# The first line of the config `presence simulate --sites` writes: a later run may rewrite such a file, no other.
CONFIG_MARK = "# Written by presence simulate --sites"
_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ChainSite:
    """One shop of the chain: its number, site name, time zone, group, seed and the shop itself."""

    number: int
    name: str
    timezone: str
    group: str
    seed: int
    shop: Shop


def shop(number: int, aps: int = APS_PER_SHOP, timezone: str = "UTC") -> Shop:
    """The default shop with AP MACs of its own: the vendor's OUI, the shop's number, the template's last octet."""
    if not 0 <= number < MAX_SITES:
        raise ValueError(f"a chain has at most {MAX_SITES} shops, numbered from 0; got {number}")
    members = tuple(
        replace(ap, mac=f"{ap.mac[:8]}:{number >> 8 & 0xFF:02x}:{number & 0xFF:02x}:{ap.mac[-2:]}")
        for ap in TEMPLATE.aps[:aps]
    )
    return replace(TEMPLATE, aps=members, timezone=timezone)


def site(number: int) -> str:
    """Site `number`'s name: "Shop 001" for site 0."""
    return f"Shop {number + 1:03d}"


def timezone_of(number: int, base: str) -> str:
    """Site `number`'s time zone: the base zone, or for every third site from site 1 the next of OTHER_TIMEZONES
    (skipping the base zone itself), so site 0 and about two thirds of the chain share the base zone."""
    others = [zone for zone in OTHER_TIMEZONES if zone != base]
    if number % OTHER_ZONE_EVERY != 1:
        return base
    return others[number // OTHER_ZONE_EVERY % len(others)]


def group_of(timezone: str) -> str:
    """The group of a site in `timezone`: GROUPS' name for it, else its region ("Europe/Amsterdam" -> "Europe")."""
    return GROUPS.get(timezone) or timezone.split("/")[0]


def chain(
    sites: int, seed: int = 0, timezone: str = "UTC", *, aps: int | None = None, other_timezones: bool = True
) -> list[ChainSite]:
    """`sites` shops of the default shop in base time zone `timezone` (a share elsewhere unless `other_timezones`
    is False), seeded `seed` + site number. `aps` caps the APs of the whole chain: the last shop gets the rest."""
    if not 1 <= sites <= MAX_SITES:
        raise ValueError(f"a chain has 1 to {MAX_SITES} sites, not {sites}")
    total = sites * APS_PER_SHOP if aps is None else aps
    if not (sites - 1) * APS_PER_SHOP < total <= sites * APS_PER_SHOP:
        raise ValueError(f"{total} APs do not make {sites} shops of up to {APS_PER_SHOP} APs")
    members = []
    for number in range(sites):
        zone = timezone_of(number, timezone) if other_timezones else timezone
        size = min(APS_PER_SHOP, total - number * APS_PER_SHOP)
        members.append(ChainSite(number, site(number), zone, group_of(zone), seed + number, shop(number, size, zone)))
    return members


def config_toml(sites: Sequence[ChainSite], header: str | None = None) -> str:
    """PRESENCE_CONFIG for the chain: each site with its time zone, group and opening hours, then every AP with its
    zone name, its shop as site and its floor position. `header` (comment lines) replaces the CONFIG_MARK lines."""
    if header is None:
        header = (
            f"{CONFIG_MARK} {len(sites)}: a simulated chain, rewritten by the next such run.\n"
            "# To keep this file as your own, move it away or delete the line above."
        )
    lines = [*header.splitlines(), ""]
    for member in sites:
        lines += ["[[sites]]", f'name = "{member.name}"', f'timezone = "{member.timezone}"']
        lines += [f'group = "{member.group}"', f"hours = {hours_toml()}", ""]
    for member in sites:
        for ap in member.shop.aps:
            lines += ["[[aps]]", f'mac = "{ap.mac}"', f'name = "{ap.name}"', f'site = "{member.name}"']
            lines += [f"x = {ap.x}", f"y = {ap.y}", ""]
    return "\n".join(lines)


def hours_toml() -> str:
    """The simulated shop's opening hours (simulator.people.OPENING_HOURS) as a [[sites]] `hours` inline table."""
    texts = [f"{opens:02d}:00-{closes:02d}:00" for opens, closes in people.OPENING_HOURS]
    usual = max(texts, key=texts.count)
    days = [f'{key} = "{text}"' for key, text in zip(_DAY_KEYS, texts, strict=True) if text != usual]
    return "{ " + ", ".join([f'default = "{usual}"', *days]) + " }"


def is_chain_config(text: str) -> bool:
    """True if `text` is a config `presence simulate --sites` wrote (its first line is CONFIG_MARK)."""
    return text.startswith(CONFIG_MARK)


def simulate_chain(
    sites: Sequence[ChainSite],
    start: datetime,
    end: datetime | None,
    *,
    vendor: str = "mixed",
    network_id: str = DEFAULT_NETWORK_ID,
    owner_id: str = DEFAULT_OWNER_ID,
    meraki_network_id: str = DEFAULT_MERAKI_NETWORK_ID,
) -> ChainSimulation:
    """Every site's simulation from `start` to `end` (None: endless), each with its own seed."""
    return ChainSimulation(
        [
            simulate(
                member.shop,
                start,
                end,
                member.seed,
                vendor=vendor,
                network_id=network_id,
                owner_id=owner_id,
                meraki_network_id=meraki_network_id,
            )
            for member in sites
        ]
    )


class ChainSimulation:
    """Several sites' simulations as one, for simulator.run.feed and run: each interval holds every site's reports
    of that minute (all simulations start and end on the same minutes), the truth is every site's."""

    def __init__(self, simulations: Sequence[Simulation]) -> None:
        if not simulations:
            raise ValueError("a chain needs at least one site")
        self.simulations = list(simulations)
        self.start = self.simulations[0].start
        self.end = self.simulations[0].end
        if any((s.start, s.end) != (self.start, self.end) for s in self.simulations):
            raise ValueError("the sites' simulations must cover the same window")
        self.vendors = tuple(vendor for s in self.simulations for vendor in s.vendors)

    def intervals(self) -> Iterator[Interval]:
        """One interval per minute with every site's reports of it, site by site."""
        for parts in zip(*(s.intervals() for s in self.simulations), strict=True):
            yield Interval(at=parts[0].at, reports=tuple(report for part in parts for report in part.reports))

    def reports(self) -> Iterator[Report]:
        for interval in self.intervals():
            yield from interval.reports

    def truth(self) -> list[Visit]:
        """Every site's true visits, ordered by start (Visit names no site: see each simulation's own truth)."""
        visits = [visit for s in self.simulations for visit in s.truth()]
        return sorted(visits, key=lambda visit: (visit.start, visit.device))
