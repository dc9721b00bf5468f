"""The HTTP path through the Flask app: authentication, refusals and their shape, dedupe, atomic writes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from receiver.app import create_app
from tests.conftest import (
    AEROHIVE_SECRET,
    ENGENIUS_KEY,
    all_observations,
    count_observations,
    dumps,
    make_settings,
    sign,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENGENIUS_BODY = (FIXTURES / "engenius_sample.json").read_bytes()
AEROHIVE_BODY = (FIXTURES / "aerohive_sample.json").read_bytes()


def engenius_document(records: int = 3) -> dict:
    document = json.loads(ENGENIUS_BODY)
    template = document["probe_requests"][0]
    document["probe_requests"] = [
        {**template, "mac": f"f0:18:98:00:00:{i:02x}", "first_seen": template["first_seen"] + i} for i in range(records)
    ]
    return document


def post_engenius(client, body: bytes, **headers):
    return client.post("/ingest/engenius", data=body, headers={"Signature": sign(body), **headers})


def assert_error(response, status: int, fragment: str) -> None:
    assert response.status_code == status
    assert response.json["ok"] is False
    assert response.json["status"] == status
    assert fragment in response.json["error"]
    assert set(response.json) <= {"ok", "status", "error", "field"}


# --- EnGenius signatures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["hex", "HEX", "base64", "base64url", "base64url-unpadded"])
def test_engenius_signature_accepted_in_every_encoding(client, engine, encoding):
    response = client.post(
        "/ingest/engenius", data=ENGENIUS_BODY, headers={"Signature": sign(ENGENIUS_BODY, encoding=encoding)}
    )
    assert response.status_code == 200
    assert count_observations(engine) == 3


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "missing Signature"),
        ({"Signature": "zz"}, "not a hex or base64"),
        ({"Signature": sign(ENGENIUS_BODY, key="wrong-key")}, "does not match"),
        ({"Signature": sign(ENGENIUS_BODY + b" ")}, "does not match"),
    ],
)
def test_engenius_forged_or_unsigned_posts_are_refused_and_nothing_is_stored(client, engine, headers, fragment):
    response = client.post("/ingest/engenius", data=ENGENIUS_BODY, headers=headers)
    assert_error(response, 401, fragment)
    assert count_observations(engine) == 0


def test_engenius_per_network_key_from_config(tmp_path):
    config = tmp_path / "presence.toml"
    config.write_text('[engenius.networks]\n"183920" = "network-key"\n')
    app = create_app(make_settings(tmp_path, PRESENCE_CONFIG=str(config), PRESENCE_ENGENIUS_KEY=""))
    client = app.test_client()

    assert (
        client.post(
            "/ingest/engenius", data=ENGENIUS_BODY, headers={"Signature": sign(ENGENIUS_BODY, key="network-key")}
        ).status_code
        == 200
    )
    other = json.loads(ENGENIUS_BODY) | {"network_id": 99}
    body = dumps(other)
    assert_error(
        client.post("/ingest/engenius", data=body, headers={"Signature": sign(body, key="network-key")}),
        401,
        "not configured",
    )


# --- Aerohive secrets ---------------------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("path", "headers", "body"),
    [
        ("/ingest/aerohive", {"Authorization": f"Bearer {AEROHIVE_SECRET}"}, AEROHIVE_BODY),
        ("/ingest/aerohive", {"Authorization": basic("hivemanager", AEROHIVE_SECRET)}, AEROHIVE_BODY),
        ("/ingest/aerohive", {"Authorization": basic("", AEROHIVE_SECRET)}, AEROHIVE_BODY),
        ("/ingest/aerohive", {}, dumps(json.loads(AEROHIVE_BODY) | {"secret": AEROHIVE_SECRET})),
        (f"/ingest/aerohive?secret={AEROHIVE_SECRET}", {}, AEROHIVE_BODY),
    ],
    ids=["bearer", "basic", "basic-no-user", "body-field", "query"],
)
def test_aerohive_secret_accepted_in_every_transport(client, engine, path, headers, body):
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 200
    assert response.json == {"ok": True, "stored": 1, "duplicates": 2}
    assert count_observations(engine) == 1


@pytest.mark.parametrize(
    ("path", "headers", "fragment"),
    [
        ("/ingest/aerohive", {}, "missing Aerohive secret"),
        ("/ingest/aerohive", {"Authorization": "Bearer nope"}, "does not match"),
        ("/ingest/aerohive", {"Authorization": basic("u", "nope")}, "does not match"),
        ("/ingest/aerohive", {"Authorization": "Basic !!!not-base64"}, "missing Aerohive secret"),
        ("/ingest/aerohive?secret=nope", {}, "does not match"),
    ],
)
def test_aerohive_wrong_or_missing_secret_is_refused(client, engine, path, headers, fragment):
    assert_error(client.post(path, data=AEROHIVE_BODY, headers=headers), 401, fragment)
    assert count_observations(engine) == 0


@pytest.mark.parametrize(
    ("vendor", "setting"), [("engenius", "PRESENCE_ENGENIUS_KEY"), ("aerohive", "PRESENCE_AEROHIVE_SECRET")]
)
def test_a_vendor_without_a_secret_refuses_every_post(tmp_path, vendor, setting):
    app = create_app(make_settings(tmp_path, **{setting: ""}))
    body = ENGENIUS_BODY if vendor == "engenius" else AEROHIVE_BODY
    headers = {"Signature": sign(body, key=""), "Authorization": "Bearer "}
    response = app.test_client().post(f"/ingest/{vendor}?secret=", data=body, headers=headers)
    assert_error(response, 401, f"not configured on this receiver: set {setting}")


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{", 400, "not valid JSON"),
        (b"", 400, "not valid JSON"),
        (b"\xff\xfe\x00garbage", 400, "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "not valid JSON"),
        (
            b'{"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": [{"count": ' + b"9" * 5000 + b"}]}",
            400,
            "not valid JSON",
        ),
        (b"[]", 422, "valid dictionary"),
        (b'"text"', 422, "valid dictionary"),
        (b'{"node_mac": "ac:86:74:82:9a:30"}', 422, "probe_requests: Field required"),
        (b'{"node_mac": "nope", "probe_requests": []}', 422, "node_mac: 'nope' is not a MAC address"),
        (
            b'{"node_mac": "ac:86:74:82:9a:30", "probe_requests": {}}',
            422,
            "probe_requests: Input should be a valid list",
        ),
        (
            b'{"node_mac": "ac:86:74:82:9a:30", "probe_requests": [{"mac": "f0:18:98:00:00:01", "min_signal": NaN}]}',
            422,
            "min_signal",
        ),
        (
            b'{"node_mac": "ac:86:74:82:9a:30", "probe_requests": [{"mac": "f0:18:98:00:00:01", "min_signal": 1e999}]}',
            422,
            "min_signal",
        ),
    ],
)
def test_malformed_or_invalid_signed_bodies_get_a_4xx_naming_the_problem(client, engine, body, status, fragment):
    response = post_engenius(client, body)
    assert_error(response, status, fragment)
    assert count_observations(engine) == 0


def test_validation_errors_name_the_field(client):
    document = engenius_document()
    document["probe_requests"][2]["last_seen_signal"] = -500
    response = post_engenius(client, dumps(document))
    assert_error(response, 422, "probe_requests[2].last_seen_signal")
    assert response.json["field"] == "probe_requests[2].last_seen_signal"


def test_one_bad_record_refuses_the_whole_post(client, engine):
    document = engenius_document(records=50)
    document["probe_requests"][49]["count"] = -1
    assert_error(post_engenius(client, dumps(document)), 422, "count")
    assert count_observations(engine) == 0


def test_oversized_body_gets_413_without_storing(tmp_path):
    app = create_app(make_settings(tmp_path, PRESENCE_MAX_BODY_BYTES="1000"))
    document = engenius_document(records=40)
    body = dumps(document)
    assert len(body) > 1000
    response = app.test_client().post("/ingest/engenius", data=body, headers={"Signature": sign(body)})
    assert_error(response, 413, "larger than the limit of 1000 bytes")
    assert count_observations(app.extensions["presence"]["engine"]) == 0


def test_unknown_routes_and_methods_keep_the_error_shape(client):
    assert_error(client.get("/ingest/engenius"), 405, "not allowed")
    assert_error(client.post("/ingest/nobody"), 404, "not found")


# --- storage semantics --------------------------------------------------------------------------------------


def test_redelivery_is_stored_once(client, engine):
    body = dumps(engenius_document(records=5))
    first = post_engenius(client, body)
    second = post_engenius(client, body)
    assert first.json == {"ok": True, "stored": 5, "duplicates": 0}
    assert second.json == {"ok": True, "stored": 0, "duplicates": 5}
    assert count_observations(engine) == 5


def test_overlapping_posts_store_only_the_new_records(client, engine):
    document = engenius_document(records=6)
    post_engenius(client, dumps({**document, "probe_requests": document["probe_requests"][:4]}))
    response = post_engenius(client, dumps({**document, "probe_requests": document["probe_requests"][2:]}))
    assert response.json == {"ok": True, "stored": 2, "duplicates": 2}
    assert count_observations(engine) == 6


def test_same_device_with_different_signal_is_a_new_observation(client, engine):
    document = engenius_document(records=1)
    post_engenius(client, dumps(document))
    document["probe_requests"][0]["avg_signal"] = -71
    assert post_engenius(client, dumps(document)).json["stored"] == 1
    assert count_observations(engine) == 2


def test_empty_report_is_accepted_and_writes_nothing(client, engine):
    response = post_engenius(client, dumps({"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": []}))
    assert response.status_code == 200
    assert response.json == {"ok": True, "stored": 0, "duplicates": 0}
    assert count_observations(engine) == 0


FAIL_ON_30TH_ROW = {
    "sqlite": [
        "CREATE TRIGGER fail_on_30 BEFORE INSERT ON observation "
        "WHEN (SELECT count(*) FROM observation) >= 29 BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION fail_on_30() RETURNS trigger AS $$ BEGIN "
        "IF (SELECT count(*) FROM observation) >= 29 THEN RAISE EXCEPTION 'disk full'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER fail_on_30 BEFORE INSERT ON observation FOR EACH ROW EXECUTE FUNCTION fail_on_30()",
    ],
}


def test_a_failure_inside_the_insert_leaves_nothing_behind(client, engine):
    """A database error on the 30th row of a 50-row POST rolls back the 29 before it, and says 503."""
    with engine.begin() as connection:
        for statement in FAIL_ON_30TH_ROW[engine.dialect.name]:
            connection.execute(text(statement))
    response = post_engenius(client, dumps(engenius_document(records=50)))
    assert_error(response, 503, "nothing was stored")
    assert count_observations(engine) == 0


def test_health_reports_the_database(client, engine):
    assert client.get("/healthz").json == {"ok": True, "database": engine.dialect.name}


def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    app = create_app(make_settings(tmp_path))
    app.extensions["presence"]["engine"].dispose()
    for leftover in (tmp_path / "data").glob("presence.db*"):
        leftover.unlink()
    (tmp_path / "data" / "presence.db").mkdir()  # SQLite cannot open a directory
    assert_error(app.test_client().get("/healthz"), 503, "not reachable")


# --- privacy ------------------------------------------------------------------------------------------------


def test_devices_are_keyed_pseudonyms_stable_across_restarts(tmp_path):
    settings = make_settings(tmp_path)
    first_app = create_app(settings)
    post_engenius(first_app.test_client(), ENGENIUS_BODY)
    restarted = create_app(make_settings(tmp_path))  # key read back from data/pseudonym.key
    document = json.loads(ENGENIUS_BODY)
    for record in document["probe_requests"]:
        record["first_seen"] += 600
        record["last_seen"] += 600
    post_engenius(restarted.test_client(), dumps(document))
    rows = all_observations(restarted.extensions["presence"]["engine"])
    devices = [row["device"] for row in rows]
    assert devices[:3] == devices[3:]
    assert not any(":" in device for device in devices)
    assert (tmp_path / "data" / "pseudonym.key").stat().st_mode & 0o077 == 0


def test_another_installation_key_gives_other_pseudonyms(tmp_path):
    one = create_app(make_settings(tmp_path / "one", PRESENCE_PSEUDONYM_KEY="key-one"))
    two = create_app(make_settings(tmp_path / "two", PRESENCE_PSEUDONYM_KEY="key-two"))
    post_engenius(one.test_client(), ENGENIUS_BODY)
    post_engenius(two.test_client(), ENGENIUS_BODY)
    devices_one = {row["device"] for row in all_observations(one.extensions["presence"]["engine"])}
    devices_two = {row["device"] for row in all_observations(two.extensions["presence"]["engine"])}
    assert devices_one.isdisjoint(devices_two)


def test_raw_macs_only_when_the_operator_opts_in(tmp_path):
    app = create_app(make_settings(tmp_path, PRESENCE_STORE_RAW_MACS="1"))
    post_engenius(app.test_client(), ENGENIUS_BODY)
    devices = [row["device"] for row in all_observations(app.extensions["presence"]["engine"])]
    assert devices == ["f0:18:98:3b:61:7c", "da:a1:19:5e:02:3b", "3c:22:fb:07:aa:10"]


def test_secrets_are_never_echoed(client):
    response = client.post("/ingest/aerohive", data=AEROHIVE_BODY, headers={"Authorization": "Bearer guess-123"})
    assert "guess-123" not in response.get_data(as_text=True)
    assert AEROHIVE_SECRET not in response.get_data(as_text=True)
    assert ENGENIUS_KEY not in response.get_data(as_text=True)
