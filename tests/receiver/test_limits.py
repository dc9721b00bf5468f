"""Senders that keep getting refused are answered 429 before their body is read; accepted posts never count."""

from __future__ import annotations

from receiver.app import create_app
from receiver.limits import RefusalLimit, RefusalLimiter
from tests.conftest import dumps, make_settings, sign


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_is_blocked_past_the_limit_until_its_window_ends():
    clock = Clock()
    limiter = RefusalLimiter(RefusalLimit(max_refusals=3, window_seconds=60), clock=clock)
    for _ in range(3):
        limiter.refused("10.0.0.1")
    assert limiter.blocked("10.0.0.1") == 0
    limiter.refused("10.0.0.1")
    assert limiter.blocked("10.0.0.1") == 60
    assert limiter.blocked("10.0.0.2") == 0
    clock.now += 59
    assert limiter.blocked("10.0.0.1") == 1
    clock.now += 1
    assert limiter.blocked("10.0.0.1") == 0
    limiter.refused("10.0.0.1")  # a new window starts from zero
    assert limiter.blocked("10.0.0.1") == 0


def test_tracked_clients_are_bounded():
    limiter = RefusalLimiter(RefusalLimit(max_refusals=1, tracked_clients=100))
    for number in range(1000):
        limiter.refused(f"10.0.{number // 256}.{number % 256}")
    assert len(limiter._windows) == 100


def test_http_flood_of_forgeries_gets_429_with_retry_after_and_valid_posts_elsewhere_pass(tmp_path):
    app = create_app(make_settings(tmp_path, PRESENCE_REFUSAL_LIMIT="5"))
    client = app.test_client()
    body = dumps({"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": []})
    answers = [
        client.post("/ingest/engenius", data=body, headers={"Signature": "0" * 64}).status_code for _ in range(8)
    ]
    assert answers == [401] * 6 + [429] * 2
    blocked = client.post("/ingest/engenius", data=body, headers={"Signature": "0" * 64})
    assert blocked.json["status"] == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    other = client.post(
        "/ingest/engenius", data=body, headers={"Signature": sign(body)}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert other.status_code == 200


def test_accepted_posts_never_count_towards_the_limit(tmp_path):
    app = create_app(make_settings(tmp_path, PRESENCE_REFUSAL_LIMIT="2"))
    client = app.test_client()
    body = dumps({"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": []})
    assert {
        client.post("/ingest/engenius", data=body, headers={"Signature": sign(body)}).status_code for _ in range(20)
    } == {200}


AP = {"REMOTE_ADDR": "10.0.0.7"}


def signed_post(client, body: bytes, environ: dict, **headers):
    return client.post(
        "/ingest/engenius", data=body, headers={"Signature": sign(body), **headers}, environ_base=environ
    )


def test_a_forger_at_the_aps_address_never_costs_the_ap_a_post(tmp_path):
    """Behind NAT or a reverse proxy a forger and a real AP share an address: the forger is refused, the AP not."""
    app = create_app(make_settings(tmp_path, PRESENCE_REFUSAL_LIMIT="5", PRESENCE_AEROHIVE_SECRET="hive"))
    client = app.test_client()
    body = dumps({"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": []})
    aerohive = dumps({"ownerId": "1", "apMac": "3a1e6d8c785c", "observations": []})
    forged, valid = [], []
    for _ in range(30):
        forged.append(
            client.post("/ingest/engenius", data=body, headers={"Signature": "0" * 64}, environ_base=AP).status_code
        )
        valid.append(signed_post(client, body, AP).status_code)
        valid.append(
            client.post(
                "/ingest/aerohive", data=aerohive, headers={"Authorization": "Bearer hive"}, environ_base=AP
            ).status_code
        )
    assert forged == [401] * 6 + [429] * 24
    assert valid == [200] * 60


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(tmp_path):
    app = create_app(make_settings(tmp_path, PRESENCE_REFUSAL_LIMIT="2", PRESENCE_TRUSTED_PROXIES="10.9.0.0/16"))
    client = app.test_client()
    body = dumps({"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": []})
    proxy = {"REMOTE_ADDR": "10.9.0.1"}

    def forge(forwarded: str) -> int:
        headers = {"Signature": "0" * 64, "X-Forwarded-For": forwarded}
        return client.post("/ingest/engenius", data=body, headers=headers, environ_base=proxy).status_code

    assert [forge("203.0.113.9") for _ in range(4)] == [401, 401, 401, 429]
    assert forge("198.51.100.2") == 401  # another client behind the same proxy is not blocked
    assert forge("203.0.113.9, 10.9.0.5") == 429  # a second trusted hop is skipped
    assert forge("198.51.100.77, 203.0.113.9") == 429  # what the client itself wrote further left is not trusted


def test_without_a_trusted_proxy_a_forwarded_header_changes_nothing(tmp_path):
    app = create_app(make_settings(tmp_path, PRESENCE_REFUSAL_LIMIT="2"))
    client = app.test_client()
    body = dumps({"network_id": 1, "node_mac": "ac:86:74:82:9a:30", "probe_requests": []})
    answers = [
        client.post(
            "/ingest/engenius",
            data=body,
            headers={"Signature": "0" * 64, "X-Forwarded-For": f"198.51.100.{n}"},
            environ_base=AP,
        ).status_code
        for n in range(5)
    ]
    assert answers == [401, 401, 401, 429, 429]
