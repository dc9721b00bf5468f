"""A network's key (an owner's secret) vouches only for the APs configured for it, once it has any: shop B's key
cannot store for, or refresh the last report of, shop A's AP (issue 14, item 10)."""

from __future__ import annotations

import logging

import pytest

from receiver.app import create_app
from tests.conftest import ENGENIUS_KEY, count_observations, dumps, make_settings, sign

SHOP_A_AP, SHOP_B_AP, UNBOUND_AP = "ac:86:74:82:9a:30", "ac:86:74:82:9a:31", "ac:86:74:82:9a:32"
CONFIG = f"""
[engenius.networks]
"100" = "key-of-shop-a"
"200" = "key-of-shop-b"
"300" = "key-without-aps"

[aerohive.owners]
"10" = "secret-of-shop-a"
"20" = "secret-of-shop-b"

[[aps]]
mac = "{SHOP_A_AP}"
site = "Shop A"
network = "100"
owner = "10"

[[aps]]
mac = "{SHOP_B_AP}"
site = "Shop B"
network = "200"
owner = "20"

[[aps]]
mac = "{UNBOUND_AP}"
site = "Shop C"
"""


@pytest.fixture
def app(tmp_path):
    config = tmp_path / "presence.toml"
    config.write_text(CONFIG)
    application = create_app(make_settings(tmp_path, PRESENCE_CONFIG=str(config)))
    yield application
    application.extensions["presence"]["engine"].dispose()


def engenius(network: int, ap: str) -> bytes:
    record = {"mac": "f0:18:98:00:00:01", "min_signal": -70, "max_signal": -60, "avg_signal": -65,
              "last_seen_signal": -61, "first_seen": 1763889601, "last_seen": 1763889655}  # fmt: skip
    return dumps({"network_id": network, "node_mac": ap, "probe_requests": [record]})


def aerohive(owner: str, ap: str) -> bytes:
    record = {"clientMac": "dcac3da506b4", "seenTime": "2025-11-23T09:20:00.000+0000", "rssi": -50}
    return dumps({"ownerId": owner, "apMac": ap, "observations": [record]})


def ap_reports(app) -> list[str]:
    with app.extensions["presence"]["engine"].connect() as connection:
        return [row[0] for row in connection.exec_driver_sql("SELECT ap_mac FROM ap_report ORDER BY ap_mac")]


@pytest.mark.parametrize(
    ("network", "ap", "key", "status"),
    [
        (100, SHOP_A_AP, "key-of-shop-a", 200),
        (200, SHOP_B_AP, "key-of-shop-b", 200),
        (200, SHOP_A_AP, "key-of-shop-b", 403),  # shop B's key for shop A's AP
        (200, UNBOUND_AP, "key-of-shop-b", 403),  # nor for an AP configured for no network
        (300, SHOP_A_AP, "key-without-aps", 200),  # a network with no APs listed is not bound (as before)
        (1, SHOP_A_AP, ENGENIUS_KEY, 200),  # the installation's own key vouches for every AP
    ],
)
def test_engenius_network_keys_vouch_only_for_their_aps(app, caplog, network, ap, key, status):
    body = engenius(network, ap)
    with caplog.at_level(logging.WARNING, logger="presence.receiver"):
        response = app.test_client().post("/ingest/engenius", data=body, headers={"Signature": sign(body, key)})
    assert response.status_code == status, response.json
    engine = app.extensions["presence"]["engine"]
    if status == 403:
        assert response.json == {
            "ok": False,
            "status": 403,
            "error": f"the key of EnGenius network {network} is not configured for AP {ap} "
            "([[aps]] in PRESENCE_CONFIG)",
            "field": "node_mac",
        }
        assert count_observations(engine) == 0
        assert ap_reports(app) == []  # the AP's last report was not refreshed
        [warning] = [record for record in caplog.records if record.levelno == logging.WARNING]
        assert (warning.ap_mac, warning.credential) == (ap, f"the key of EnGenius network {network}")
    else:
        assert ap_reports(app) == [ap]


def test_aerohive_owner_secrets_vouch_only_for_their_aps(app):
    client = app.test_client()

    def post(owner: str, ap: str, secret: str):
        return client.post("/ingest/aerohive", data=aerohive(owner, ap), headers={"Authorization": f"Bearer {secret}"})

    assert post("10", "ac8674829a30", "secret-of-shop-a").status_code == 200
    refused = post("20", "ac8674829a30", "secret-of-shop-b")
    assert refused.status_code == 403
    assert refused.json["field"] == "apMac"
    assert "HiveManager owner 20 is not configured for AP ac:86:74:82:9a:30" in refused.json["error"]
    assert post("10", "ac8674829a30", "secret-of-shop-b").status_code == 401  # and the wrong secret is still 401
    assert ap_reports(app) == [SHOP_A_AP]


def test_the_ap_fields_are_read_from_the_config(app):
    settings = app.extensions["presence"]["settings"]
    assert settings.aps_of_network("200") == {SHOP_B_AP}
    assert settings.aps_of_owner("10") == {SHOP_A_AP}
    assert settings.access_points[UNBOUND_AP].network is None
    assert settings.access_points[SHOP_A_AP].site == "Shop A"
