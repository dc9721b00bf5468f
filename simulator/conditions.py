"""How hard a simulated floor is: the radio's noise and how visitors spread their time, per shop.

The defaults are the simulator's own shop (`presence simulate`, `make demo`). `HARSH` is a floor closer to what a
real shop gives a fingerprinting method to work with (issue 15): phones that differ by several dB, shadowing that
also differs per phone and AP (a body, a bag, which way the phone faces), stronger fading, and half the visitors
spending about a third of their visit somewhere else. A shop carries its conditions (`Shop.conditions`), so every
part of the simulation, in any process, uses the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator import radio

# Share of visitors who, besides the zone they settle in, spend a part (20-50 %) of the visit in another zone.
SECOND_ZONE_SHARE = 0.35
SECOND_ZONE_FRACTION = (0.2, 0.5)
# Where in a zone someone stands: normally spread around the AP that names the zone.
ZONE_SPREAD_M = 2.5


@dataclass(frozen=True)
class Conditions:
    """The radio's noise (dB) and the visitors' behaviour of one simulated floor."""

    # Log-normal shadowing, one draw per AP and place the phone stays (radio.SHADOWING_SIGMA_DB).
    shadowing_sigma_db: float = radio.SHADOWING_SIGMA_DB
    # Shadowing of one phone at one AP for its whole visit (its body and bag, how it is carried); 0: none.
    link_shadowing_sigma_db: float = 0.0
    # Frame-to-frame fading (radio.FADING_SIGMA_DB).
    fading_sigma_db: float = radio.FADING_SIGMA_DB
    # Per-phone transmit and antenna offset (radio.DEVICE_OFFSET_SIGMA_DB).
    device_offset_sigma_db: float = radio.DEVICE_OFFSET_SIGMA_DB
    # Share of visitors with a second place, and the fraction of the visit they spend there.
    second_zone_share: float = SECOND_ZONE_SHARE
    second_zone_fraction: tuple[float, float] = SECOND_ZONE_FRACTION
    # How far from its AP a visitor stands in a zone (normal, per axis).
    zone_spread_m: float = ZONE_SPREAD_M


DEFAULT = Conditions()
# A real floor's noise: phones differ by 6 dB (s.d.; transmit power classes, cases, hands), 6 dB of shadowing per
# place and AP plus 4 dB per phone and AP for the whole visit (indoor measurements report 3-10 dB), 4 dB of fading
# through per-minute averaging, and half the visitors spending 25-45 % of their visit (about a third) in another
# zone. People stand 3 m (s.d.) from the AP of their zone, so neighbouring zones' visitors overlap.
HARSH = Conditions(
    shadowing_sigma_db=6.0,
    link_shadowing_sigma_db=4.0,
    fading_sigma_db=4.0,
    device_offset_sigma_db=6.0,
    second_zone_share=0.5,
    second_zone_fraction=(0.25, 0.45),
    zone_spread_m=3.0,
)
