"""Phones: manufacturer mix, real MACs under the manufacturers' registered OUIs, and randomized MACs.

MACs are carried as 48-bit integers in numpy arrays and turned into `aa:bb:cc:dd:ee:ff` text only when rendered.
"""

from __future__ import annotations

import numpy as np

# Roughly the European smartphone vendor mix of the mid-2020s: Apple and Samsung about a third each, then
# Xiaomi, with Google, Huawei, OPPO, Motorola and OnePlus sharing the rest.
MANUFACTURER_SHARES = {
    "Apple": 0.34,
    "Samsung": 0.31,
    "Xiaomi": 0.13,
    "Google": 0.06,
    "Huawei": 0.06,
    "OPPO": 0.04,
    "Motorola": 0.04,
    "OnePlus": 0.02,
}
MANUFACTURERS = tuple(MANUFACTURER_SHARES)

# OUIs registered to each company in the IEEE registry that devices.macs.manufacturer_of reads (a test checks
# every one); several per company, as real phones spread over many blocks and so random NICs rarely collide.
OUIS = {
    "Apple": ("f0:18:98", "3c:22:fb", "a4:83:e7", "f4:0f:24", "bc:d0:74", "8c:85:90", "68:d9:3c", "fc:e9:98"),
    "Samsung": ("00:16:32", "34:14:5f", "a8:7c:01", "cc:07:ab", "14:56:8e", "fc:a6:21", "fc:de:90", "fc:c7:34"),
    "Xiaomi": ("64:09:80", "50:8f:4c", "9c:99:a0", "78:02:f8", "0c:1d:af", "f8:a4:5f", "fc:64:ba", "fc:d9:08"),
    "Google": ("3c:28:6d", "f8:8f:ca", "58:24:29", "94:eb:2c", "58:cb:52", "f4:f5:e8"),
    "Huawei": ("00:e0:fc", "48:46:fb", "04:f9:38", "ac:e2:15", "24:df:6a", "fc:ab:90"),
    "OPPO": ("f0:6d:78", "f0:79:e8", "f4:d6:20", "f8:c4:ae"),
    "Motorola": ("f4:f5:24", "f8:1f:32", "f8:cf:c5", "fc:b9:df"),
    "OnePlus": ("94:65:2d", "64:a2:f9", "ac:c0:48", "d0:49:7c"),
}
# What each company's phones run, as HiveManager's fingerprinting names it (its sample says "ios").
OPERATING_SYSTEMS = {name: ("ios" if name == "Apple" else "android") for name in MANUFACTURERS}

_OUI_VALUES = [
    np.array([int(oui.replace(":", ""), 16) for oui in OUIS[name]], dtype=np.int64) for name in MANUFACTURERS
]
_NIC_VALUES = 1 << 24
_LOCALLY_ADMINISTERED = np.int64(0x02 << 40)
_MULTICAST = np.int64(0x01 << 40)


def manufacturers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indices into MANUFACTURERS drawn from the market mix."""
    shares = np.array(list(MANUFACTURER_SHARES.values()))
    return rng.choice(len(MANUFACTURERS), size=n, p=shares / shares.sum())


def real_macs(rng: np.random.Generator, manufacturer: np.ndarray) -> np.ndarray:
    """Burned-in MACs: one of the manufacturer's OUIs followed by a random 24-bit NIC part."""
    macs = np.empty(len(manufacturer), dtype=np.int64)
    for index, ouis in enumerate(_OUI_VALUES):
        mine = np.flatnonzero(manufacturer == index)
        oui = ouis[rng.integers(0, len(ouis), size=len(mine))]
        macs[mine] = (oui << 24) | rng.integers(0, _NIC_VALUES, size=len(mine))
    return macs


def random_macs(rng: np.random.Generator, n: int) -> np.ndarray:
    """Randomized ("private") MACs: 46 random bits, locally administered bit set, multicast bit clear."""
    return (rng.integers(0, 1 << 48, size=n, dtype=np.int64) | _LOCALLY_ADMINISTERED) & ~_MULTICAST


def mac_text(mac: int) -> str:
    """48-bit integer → `aa:bb:cc:dd:ee:ff`."""
    digits = f"{mac:012x}"
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def is_randomized(macs: np.ndarray) -> np.ndarray:
    return (np.asarray(macs) & _LOCALLY_ADMINISTERED) != 0
