"""POSTing simulated reports to a receiver over HTTP, signed and authenticated as each vendor does it.

EnGenius bodies carry `Signature: <hex HMAC-SHA256 of the exact body bytes>` under the network's key; Aerohive
POSTs carry `Authorization: Bearer <shared secret>`; Meraki carries its shared secret in the body's `secret`, and
its dashboard GETs the Post URL first and expects the validator string back. One keep-alive `requests.Session`
per sending thread.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from config.settings import ConfigError, Settings
from receiver.vendors.engenius import EnGeniusPayload
from receiver.vendors.meraki import MerakiPayloadV3
from simulator import render

if TYPE_CHECKING:
    from simulator.run import Report

ENDPOINTS = {"engenius": "/ingest/engenius", "aerohive": "/ingest/aerohive", "meraki": "/ingest/meraki"}
# Long enough for a receiver queueing on SQLite's write lock (its busy timeout is 30 s) to answer.
TIMEOUT_S = 35.0
# Like the vendors, never retry a POST the receiver answered (whatever the status): a refusal is data lost, and
# the summary says so. Only a connection that broke (a keep-alive closed by the server) is retried, which is safe
# because the receiver stores a re-delivered record once.
RETRIES = Retry(total=2, connect=2, read=2, status=0, other=0, allowed_methods=None, backoff_factor=0.1)
# Concurrent POSTs when backfilling: enough to keep a two-worker receiver busy without queueing at its socket.
DEFAULT_WORKERS = 4
# Failed answers remembered for the summary.
KEPT_FAILURES = 5


class Sender:
    """Turns a report into the vendor's HTTP request and POSTs it."""

    def __init__(self, target: str, settings: Settings, *, timeout: float = TIMEOUT_S) -> None:
        self.target = target.rstrip("/")
        self._settings = settings
        self._timeout = timeout
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def check(self, vendors: set[str], network_id: str, owner_id: str) -> None:
        """Raise ConfigError if a vendor we are about to send as has no key or secret configured, or, with
        PRESENCE_MERAKI_VALIDATOR set, if the receiver does not answer Meraki's validation GET with it."""
        if "engenius" in vendors and not self._settings.engenius_key_for(network_id):
            raise ConfigError("sending EnGenius reports needs PRESENCE_ENGENIUS_KEY (or a key for the network)")
        if "aerohive" in vendors and not self._settings.aerohive_secret_for(owner_id):
            raise ConfigError("sending Aerohive reports needs PRESENCE_AEROHIVE_SECRET (or a secret for the owner)")
        if "meraki" in vendors and not self._settings.meraki_secret:
            raise ConfigError("sending Meraki reports needs PRESENCE_MERAKI_SECRET")
        if "meraki" in vendors and self._settings.meraki_validator:
            self._check_meraki_validator(self._settings.meraki_validator)

    def _check_meraki_validator(self, validator: str) -> None:
        """GET the Post URL as Meraki's dashboard does before it sends anything: the answer must be the validator."""
        url = self.target + ENDPOINTS["meraki"]
        try:
            answer = self._session().get(url, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ConfigError(f"could not GET {url} to check the Meraki validator: {exc}") from None
        if not answer.ok or answer.text != validator:
            raise ConfigError(
                f"GET {url} answered {answer.status_code} {answer.text[:80]!r}, not PRESENCE_MERAKI_VALIDATOR: "
                "Meraki would refuse this Post URL"
            )

    def request(self, report: Report) -> tuple[str, bytes, dict[str, str]]:
        """URL, body bytes and headers for one report."""
        payload = report.payload
        if isinstance(payload, MerakiPayloadV3):
            payload = payload.model_copy(update={"secret": self._settings.meraki_secret or ""})
        body = render.to_json(payload)
        headers = {"Content-Type": "application/json"}
        if isinstance(payload, EnGeniusPayload):
            key = self._settings.engenius_key_for(payload.network_id) or ""
            headers["Signature"] = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        elif not isinstance(payload, MerakiPayloadV3):
            headers["Authorization"] = f"Bearer {self._settings.aerohive_secret_for(payload.ownerId) or ''}"
        return self.target + ENDPOINTS[report.vendor], body, headers

    def post(self, report: Report) -> requests.Response:
        url, body, headers = self.request(report)
        return self._session().post(url, data=body, headers=headers, timeout=self._timeout)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(max_retries=RETRIES))
            session.mount("https://", HTTPAdapter(max_retries=RETRIES))
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()


class HttpSink:
    """Sends reports with a small thread pool, at most a few in flight per thread, and counts the answers."""

    def __init__(self, sender: Sender, workers: int = DEFAULT_WORKERS) -> None:
        self.sender = sender
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simulate-send")
        self._in_flight: deque[tuple[Report, Future[requests.Response]]] = deque()
        self._max_in_flight = 4 * workers
        self.payloads = self.observations = self.stored = self.duplicates = self.failed = 0
        self.failures: list[str] = []

    def add(self, report: Report) -> None:
        if len(self._in_flight) >= self._max_in_flight:
            self._settle(*self._in_flight.popleft())
        self._in_flight.append((report, self._pool.submit(self.sender.post, report)))

    def flush(self) -> None:
        while self._in_flight:
            self._settle(*self._in_flight.popleft())

    def close(self) -> None:
        self.flush()
        self._pool.shutdown()
        self.sender.close()

    def _settle(self, report: Report, future: Future[requests.Response]) -> None:
        self.payloads += 1
        self.observations += report.size
        try:
            response = future.result()
        except requests.RequestException as exc:
            self._fail(f"{report.vendor} {report.at:%H:%M} {report.name}: {exc}")
            return
        if not response.ok:
            self._fail(f"{report.vendor} {report.at:%H:%M} {report.name}: {response.status_code} {response.text[:200]}")
            return
        answer = response.json()
        self.stored += int(answer.get("stored", 0))
        self.duplicates += int(answer.get("duplicates", 0))

    def _fail(self, message: str) -> None:
        self.failed += 1
        if len(self.failures) < KEPT_FAILURES:
            self.failures.append(message)
