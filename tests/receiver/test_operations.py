"""What an operator relies on: Prometheus metrics, the OpenAPI description, JSON logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from receiver.logs import JsonFormatter
from tests.conftest import sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENGENIUS_BODY = (FIXTURES / "engenius_sample.json").read_bytes()


def samples(client) -> dict[tuple, float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_records_and_ap_reports(client):
    before = samples(client)
    client.post("/ingest/engenius", data=ENGENIUS_BODY, headers={"Signature": sign(ENGENIUS_BODY)})
    client.post("/ingest/engenius", data=ENGENIUS_BODY, headers={"Signature": sign(ENGENIUS_BODY)})
    client.post("/ingest/engenius", data=ENGENIUS_BODY, headers={"Signature": "0" * 64})
    after = samples(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("presence_requests_total", vendor="engenius", status="200") == 2
    assert delta("presence_requests_total", vendor="engenius", status="401") == 1
    assert delta("presence_records_stored_total", vendor="engenius") == 3
    assert delta("presence_records_duplicate_total", vendor="engenius") == 3
    assert delta("presence_request_seconds_count", vendor="engenius") == 3
    assert (
        after[("presence_ap_last_report_timestamp_seconds", (("ap_mac", "ac:86:74:82:9a:30"), ("vendor", "engenius")))]
        > 0
    )


def test_openapi_describes_every_route_and_resolves_its_references(client, app):
    document = client.get("/openapi.json").json
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert set(document["paths"]) == routes - {"/openapi.json"}
    text = json.dumps(document)
    schemas = document["components"]["schemas"]
    for name in {"ProbeRequest", "AerohiveObservation", "EnGeniusPayload", "AerohivePayload", "Error", "Stored"}:
        assert name in schemas
    for reference in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert reference in schemas


def test_json_log_lines_carry_extra_fields_and_no_secret():
    record = logging.makeLogRecord({"name": "presence.receiver", "levelname": "INFO", "msg": "ingest"})
    record.vendor, record.status = "engenius", 401
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "ingest"
    assert entry["vendor"] == "engenius"
    assert entry["status"] == 401
    assert entry["level"] == "info"
