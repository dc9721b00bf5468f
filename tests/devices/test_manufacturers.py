"""One short name per company, whether the payload or the bundled IEEE registry named it."""

from __future__ import annotations

import pytest

from devices.macs import manufacturer_of
from devices.manufacturers import short_name
from simulator.devices import MANUFACTURERS, OUIS


@pytest.mark.parametrize(
    ("registered", "short"),
    [
        ("Apple, Inc.", "Apple"),
        ("Samsung Electronics Co.,Ltd", "Samsung"),
        ("HUAWEI TECHNOLOGIES CO.,LTD", "Huawei"),
        ("Huawei Device Co., Ltd.", "Huawei"),
        ("Xiaomi Communications Co Ltd", "Xiaomi"),
        ("Google, Inc.", "Google"),
        ("GUANGDONG OPPO MOBILE TELECOMMUNICATIONS CORP.,LTD", "Oppo"),
        ("vivo Mobile Communication Co., Ltd.", "Vivo"),
        ("OnePlus Technology (Shenzhen) Co., Ltd", "OnePlus"),
        ("Motorola Mobility LLC, a Lenovo Company", "Motorola"),
        ("LG Electronics (Mobile Communications)", "LG"),
        ("Amazon.com, LLC", "Amazon"),
        ("zte corporation", "ZTE"),
        ("LENOVO(BEIJING)CO., LTD.", "Lenovo"),
        ("Realme Chongqing Mobile Telecommunications Corp.,Ltd.", "Realme"),
        ("Intelligent Systems", "Intelligent Systems"),  # trade words only go from the end, never the whole name
        ("Apple", "Apple"),  # what payloads send is already short
        ("OPPO", "Oppo"),
    ],
)
def test_registered_names_become_the_companys_short_name(registered, short):
    assert short_name(registered) == short


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_no_name_stays_no_name(blank):
    assert short_name(blank) is None


@pytest.mark.parametrize("company", MANUFACTURERS)
def test_the_registry_and_the_payload_name_a_simulated_phone_alike(company):
    """Every OUI the simulator gives a company's phones: the registry's name and the payload's become one."""
    names = {short_name(manufacturer_of(f"{oui}:12:34:56")) for oui in OUIS[company]}
    assert names == {short_name(company)}
