"""Absurd numbers and times: every one is a 422 in the error shape, quarantined, never a 5xx (issue 14, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store import quarantine as stored_quarantine
from tests.conftest import AEROHIVE_SECRET, count_observations, make_settings, sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENGENIUS = json.loads((FIXTURES / "engenius_sample.json").read_text())
AEROHIVE = json.loads((FIXTURES / "aerohive_sample.json").read_text())
MERAKI = json.loads((FIXTURES / "meraki_v3_sample.json").read_text()) | {"secret": "meraki-secret"}
HUGE = "9" * 400  # a JSON integer no float holds


@pytest.fixture
def app(tmp_path):
    from receiver.app import create_app

    application = create_app(make_settings(tmp_path, PRESENCE_MERAKI_SECRET="meraki-secret"))
    yield application
    application.extensions["presence"]["engine"].dispose()


WHERE = {  # the record each case edits, and how the refusal names its fields
    "engenius": (lambda document: document["probe_requests"][0], "probe_requests[0]"),
    "aerohive": (lambda document: document["observations"][0], "observations[0]"),
    "meraki": (lambda doc: doc["data"]["observations"][0]["locations"][0], "data.observations[0].locations[0]"),
}
SAMPLES = {"engenius": ENGENIUS, "aerohive": AEROHIVE, "meraki": MERAKI}
CASES = [
    ("engenius", "first_seen", HUGE),
    ("engenius", "last_seen", "-" + HUGE),
    ("engenius", "count", HUGE),
    ("engenius", "avg_signal", HUGE),
    ("engenius", "first_seen", "1e400"),
    ("engenius", "first_seen", f'"{HUGE}"'),
    ("aerohive", "seenEpoch", HUGE),
    ("aerohive", "seenTime", '"9999-12-31T23:59:59-14:00"'),
    ("aerohive", "seenTime", '"0001-01-01T00:00:00+14:00"'),
    ("aerohive", "x", HUGE),
    ("meraki", "x", HUGE),
    ("meraki", "lat", HUGE),
    ("meraki", "variance", "-" + HUGE),
    ("meraki", "time", '"0001-01-01T00:00:00+14:00"'),
    ("meraki", "time", '"9999-12-31T23:59:59-14:00"'),
]


def with_raw(vendor: str, field: str, raw: str) -> bytes:
    """The vendor's sample with one field of its first record written as the raw JSON token `raw`."""
    document = json.loads(json.dumps(SAMPLES[vendor]))
    WHERE[vendor][0](document)[field] = "__RAW__"
    return json.dumps(document).replace('"__RAW__"', raw).encode()


@pytest.mark.parametrize(("vendor", "name", "raw"), CASES, ids=[f"{v}-{n}-{r[:12]}" for v, n, r in CASES])
def test_absurd_numbers_and_times_are_a_quarantined_422(app, vendor, name, raw):
    body = with_raw(vendor, name, raw)
    field = f"{WHERE[vendor][1]}.{name}"
    headers = {"Signature": sign(body), "Authorization": f"Bearer {AEROHIVE_SECRET}"}
    response = app.test_client().post(f"/ingest/{vendor}", data=body, headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["field"] == field
    assert HUGE not in response.json["error"]  # a refusal quotes no 400-digit number back
    engine = app.extensions["presence"]["engine"]
    [kept] = stored_quarantine.entries(engine)
    assert (kept["vendor"], kept["status"], kept["field"]) == (vendor, 422, field)
    assert count_observations(engine) == 0
