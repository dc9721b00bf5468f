"""The simulated shop: access points with names and floor positions, the floor, the door and the street.

Coordinates are metres. The shop floor is the rectangle `x_min..x_max` by `y_min..y_max`; the street runs along
the side `y < y_min` (the shop front), and the door is on that side. Each AP's zone is the area around it and is
named after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from config.settings import ConfigError, Settings
from simulator.conditions import DEFAULT, HARSH, Conditions

# Margin around the outermost configured APs taken as the shop's walls: APs hang a few metres inside the walls.
FLOOR_MARGIN_M = 3.0


@dataclass(frozen=True)
class ShopAP:
    """One access point: its MAC, the name of its zone, where it hangs, and how popular its zone is."""

    mac: str
    name: str
    x: float
    y: float
    # Relative chance that a visitor spends most of the visit in this AP's zone.
    weight: float = 1.0
    # How much louder (dB) this AP hears every phone than the path-loss model says: its mounting (low, high, in a
    # metal ceiling, behind shelving), antenna and cabling. Real APs of one floor differ by several dB.
    gain_db: float = 0.0


@dataclass(frozen=True)
class Shop:
    """APs plus the floor rectangle, the door (on the street side, y = y_min), the local time zone and how hard the
    floor is (its radio noise and visitors' behaviour, `simulator.conditions`)."""

    aps: tuple[ShopAP, ...]
    x_min: float
    x_max: float
    y_min: float
    y_max: float
    door_x: float
    timezone: str = "UTC"
    conditions: Conditions = DEFAULT

    def __post_init__(self) -> None:
        if not self.aps:
            raise ValueError("a shop needs at least one access point")
        if len({ap.mac for ap in self.aps}) != len(self.aps):
            raise ValueError("access point MACs must be unique")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def entrance(self) -> int:
        """Index of the AP nearest the door: every visitor passes through its zone on the way in and out."""
        return min(
            range(len(self.aps)),
            key=lambda i: (self.aps[i].x - self.door_x) ** 2 + (self.aps[i].y - self.y_min) ** 2,
        )

    @property
    def width_m(self) -> float:
        return self.x_max - self.x_min


def default_shop_toml() -> str:
    """The default shop as a PRESENCE_CONFIG file: each AP's MAC, name and floor position."""
    lines = ["# The simulated default shop (written by presence demo).", ""]
    for ap in default_shop().aps:
        lines += ["[[aps]]", f'mac = "{ap.mac}"', f'name = "{ap.name}"', f"x = {ap.x}", f"y = {ap.y}", ""]
    return "\n".join(lines)


def default_shop(timezone: str = "UTC") -> Shop:
    """A 30 m x 20 m high-street shop with four APs; the street runs along the front (y < 0)."""
    return Shop(
        aps=(
            # Zone weights: the back and the fitting rooms hold browsers longest; few linger at the till.
            ShopAP(mac="88:dc:96:10:00:01", name="Entrance", x=5.0, y=3.0, weight=0.25),
            ShopAP(mac="88:5b:dd:10:00:02", name="Checkout", x=15.0, y=5.0, weight=0.15),
            ShopAP(mac="88:dc:96:10:00:03", name="Fitting rooms", x=26.0, y=15.0, weight=0.25),
            ShopAP(mac="88:5b:dd:10:00:04", name="Back", x=9.0, y=17.0, weight=0.35),
        ),
        x_min=0.0,
        x_max=30.0,
        y_min=0.0,
        y_max=20.0,
        door_x=5.0,
        timezone=timezone,
    )


def harsh_shop(timezone: str = "UTC") -> Shop:
    """The default shop's floor and APs on a harsh floor (`conditions.HARSH`), with APs that do not hear alike.

    The Entrance AP hangs low over the door and hears every phone 6 dB louder than the path-loss model says, the
    Fitting rooms AP sits above a metal ceiling (-3 dB) and the Back AP behind tall shelving (-6 dB): a spread of
    12 dB, as APs of one real floor show. Visitors' zones are where they stood, as on the default floor.
    """
    gains = {"Entrance": 6.0, "Checkout": 0.0, "Fitting rooms": -3.0, "Back": -6.0}
    base = default_shop(timezone)
    return replace(base, aps=tuple(replace(ap, gain_db=gains[ap.name]) for ap in base.aps), conditions=HARSH)


def overlapping_shop(timezone: str = "UTC") -> Shop:
    """A 30 m x 20 m shop with four APs 8-13 m apart around its middle, on a harsh floor: every AP hears nearly
    every place in the shop, and neighbouring zones' visitors stand closer to each other than to their APs."""
    return Shop(
        aps=(
            ShopAP(mac="88:dc:96:40:00:01", name="Entrance", x=9.0, y=5.0, weight=0.25, gain_db=4.0),
            ShopAP(mac="88:5b:dd:40:00:02", name="Checkout", x=18.0, y=6.0, weight=0.15, gain_db=-2.0),
            ShopAP(mac="88:dc:96:40:00:03", name="Fitting rooms", x=21.0, y=14.0, weight=0.25, gain_db=0.0),
            ShopAP(mac="88:5b:dd:40:00:04", name="Back", x=11.0, y=15.0, weight=0.35, gain_db=-4.0),
        ),
        x_min=0.0,
        x_max=30.0,
        y_min=0.0,
        y_max=20.0,
        door_x=8.0,
        timezone=timezone,
        conditions=HARSH,
    )


def shop_from_settings(settings: Settings) -> Shop:
    """The shop described by the TOML config's `[[aps]]` (names and x/y), or the default shop if none are listed.

    Every listed AP needs a floor position. The floor is the APs' bounding box plus a margin, the street runs
    along its low-y side and the door faces the AP nearest that side.
    """
    aps = list(settings.access_points.values())
    default = default_shop(settings.timezone)
    if not aps or {ap.mac for ap in aps} == {ap.mac for ap in default.aps}:
        # No APs, or the default shop written out as config (as `presence demo` does so the receiver and the
        # dashboard know the APs' names and positions): the default shop, with its floor and zone weights.
        return default
    missing = [ap.name for ap in aps if ap.x is None or ap.y is None]
    if missing:
        raise ConfigError(f"presence simulate needs x and y for every [[aps]] entry; missing for {', '.join(missing)}")
    shop_aps = tuple(ShopAP(mac=ap.mac, name=ap.name, x=float(ap.x), y=float(ap.y)) for ap in aps)  # type: ignore[arg-type]
    y_min = min(ap.y for ap in shop_aps) - FLOOR_MARGIN_M
    front = min(shop_aps, key=lambda ap: ap.y)
    return Shop(
        aps=shop_aps,
        x_min=min(ap.x for ap in shop_aps) - FLOOR_MARGIN_M,
        x_max=max(ap.x for ap in shop_aps) + FLOOR_MARGIN_M,
        y_min=y_min,
        y_max=max(ap.y for ap in shop_aps) + FLOOR_MARGIN_M,
        door_x=front.x,
        timezone=settings.timezone,
    )
