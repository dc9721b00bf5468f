"""Authentication before the body is decoded: an unauthenticated body is never turned into Python objects
(issue 14, item 9). An 8 MB `[{},{},...]` decodes into millions of dicts, hundreds of MiB; refusing it must cost
about its own size."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from receiver.app import create_app
from tests.conftest import AEROHIVE_SECRET, ENGENIUS_KEY, count_observations, dumps, make_settings, sign

BODY_BYTES = 8 * 1024 * 1024
EMPTY_OBJECTS = b"[" + b"{}," * (BODY_BYTES // 3 - 1) + b"{}]"  # 2.8 million empty objects
PEAK_LIMIT = 64 * 1024 * 1024  # a few copies of the body; decoding it would need over 300 MiB


@pytest.fixture
def app(tmp_path):
    application = create_app(
        make_settings(tmp_path, PRESENCE_MERAKI_SECRET="meraki-secret", PRESENCE_MAX_BODY_BYTES=str(BODY_BYTES + 16))
    )
    yield application
    application.extensions["presence"]["engine"].dispose()


UNAUTHENTICATED = {
    "engenius-forged-signature": ("engenius", {"Signature": "0" * 64}),
    "engenius-unsigned": ("engenius", {}),
    "aerohive-wrong-bearer": ("aerohive", {"Authorization": "Bearer wrong"}),
    "aerohive-no-secret": ("aerohive", {}),
    "meraki-no-secret": ("meraki", {}),
}


@pytest.mark.parametrize(("vendor", "headers"), UNAUTHENTICATED.values(), ids=UNAUTHENTICATED.keys())
def test_an_unauthenticated_8_mb_body_is_refused_without_being_decoded(app, vendor, headers):
    client = app.test_client()
    client.get("/healthz")  # first-request set-up outside the measurement
    tracemalloc.start()
    try:
        response = client.post(f"/ingest/{vendor}", data=EMPTY_OBJECTS, headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 401
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MiB"


def test_the_same_body_signed_is_decoded_and_refused_for_its_shape(app):
    headers = {"Signature": sign(EMPTY_OBJECTS)}
    response = app.test_client().post("/ingest/engenius", data=EMPTY_OBJECTS, headers=headers)
    assert response.status_code == 422  # authenticated, so read and validated (and quarantined)


def test_a_secret_buried_in_the_body_is_not_the_body_secret(app):
    """The raw scan only finds candidates; the decoded document's own top-level `secret` must match."""
    client = app.test_client()
    meraki = {"version": "3.0", "type": "WiFi", "data": {"observations": [], "secret": "meraki-secret"}}
    assert client.post("/ingest/meraki", data=dumps(meraki)).status_code == 401
    assert client.post("/ingest/meraki", data=dumps(meraki | {"secret": "meraki-secret"})).status_code == 200
    aerohive = {"ownerId": "1", "apMac": "3a1e6d8c785c", "observations": [{"secret": AEROHIVE_SECRET}]}
    assert client.post("/ingest/aerohive", data=dumps(aerohive)).status_code == 401
    assert client.post("/ingest/aerohive", data=dumps(aerohive | {"secret": AEROHIVE_SECRET})).status_code == 422


def test_a_network_key_signs_only_its_own_network(tmp_path):
    config = tmp_path / "presence.toml"
    config.write_text('[engenius.networks]\n"1" = "key-one"\n"2" = "key-two"\n')
    app = create_app(make_settings(tmp_path, PRESENCE_CONFIG=str(config)))
    client = app.test_client()
    report = {"network_id": 2, "node_mac": "ac:86:74:82:9a:30", "probe_requests": []}
    body = dumps(report)
    assert client.post("/ingest/engenius", data=body, headers={"Signature": sign(body, "key-two")}).status_code == 200
    wrong = client.post("/ingest/engenius", data=body, headers={"Signature": sign(body, "key-one")})
    assert wrong.status_code == 401
    # A body naming network 1 somewhere inside, but network 2 at the top, signed with network 1's key:
    sneaky = json.dumps({**report, "extra": {"network_id": 1}}).encode()
    answer = client.post("/ingest/engenius", data=sneaky, headers={"Signature": sign(sneaky, "key-one")})
    assert answer.status_code == 401
    assert answer.json["error"] == "Signature does not match the body under the key of its network_id"
    installation = client.post("/ingest/engenius", data=body, headers={"Signature": sign(body, ENGENIUS_KEY)})
    assert installation.status_code == 401  # network 2 has its own key: the installation's does not sign for it
    assert count_observations(app.extensions["presence"]["engine"]) == 0
