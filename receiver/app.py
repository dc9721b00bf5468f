"""The Flask application: thin views that authenticate, validate, normalize and store each vendor's POST."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from config.settings import Settings
from receiver import metrics, quarantine
from receiver.auth import (
    MERAKI_TRANSPORTS,
    matching_secret,
    raw_values,
    verify_engenius_signature,
    verify_engenius_signature_any,
    verify_shared_secret,
)
from receiver.errors import (
    BodyTooLarge,
    Forbidden,
    MalformedBody,
    ReceiverError,
    ServiceUnavailable,
    TooManyRefusals,
    Unauthorized,
)
from receiver.framing import BODY_OVER_LIMIT
from receiver.health import StorageHealth, is_disk_full
from receiver.ingest import Ingestor, Parsed, decode, parse
from receiver.limits import RefusalLimit, RefusalLimiter, client_address
from receiver.openapi import openapi_document
from receiver.plausibility import TimeWindow
from store import db
from store.observations import StoreResult
from store.records import Normalizer

log = logging.getLogger("presence.receiver")

_READ_CHUNK_BYTES = 64 * 1024


def create_app(settings: Settings | None = None, *, migrate: bool = True, run_dir: Path | None = None) -> Flask:
    """Build the receiver. `migrate=False` when the caller (e.g. `presence serve`) already upgraded the schema;
    `run_dir` is the scratch directory the workers of one server share (receiver.server)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    engine = db.make_engine(settings.database_url, writer=True, sqlite_synchronous=settings.sqlite_synchronous)
    if migrate:
        db.migrate(engine)
    app.extensions["presence"] = {
        "settings": settings,
        "engine": engine,
        "ingestor": Ingestor(engine, Normalizer(settings)),
        "quarantine": quarantine.QuarantinePolicy(days=settings.quarantine_days, keep_bodies=not settings.count_only),
        "limiter": RefusalLimiter(RefusalLimit(max_refusals=settings.refusal_limit)),
        "window": TimeWindow.from_settings(settings),
        "storage": StorageHealth(run_dir),
    }

    app.register_error_handler(ReceiverError, _receiver_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

    app.before_request(_start_timer)
    app.after_request(_count_ingest)

    app.add_url_rule("/healthz", view_func=healthz, methods=["GET"])
    app.add_url_rule("/metrics", view_func=prometheus_metrics, methods=["GET"])
    app.add_url_rule("/openapi.json", view_func=openapi, methods=["GET"])
    app.add_url_rule("/ingest/engenius", view_func=ingest_engenius, methods=["POST"])
    app.add_url_rule("/ingest/aerohive", view_func=ingest_aerohive, methods=["POST"])
    app.add_url_rule("/ingest/meraki", view_func=meraki_validator, methods=["GET"])
    app.add_url_rule("/ingest/meraki", view_func=ingest_meraki, methods=["POST"])
    return app


def _state() -> dict[str, Any]:
    return current_app.extensions["presence"]


# --- views -------------------------------------------------------------------------------------------------


def healthz():
    engine = _state()["engine"]
    try:
        db.ping(engine)
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("database is not reachable") from exc
    full_since = _state()["storage"].full_since()
    if full_since is not None:  # the database answers, but nothing can be stored: degraded, not "ok"
        raise ServiceUnavailable(
            f"degraded: the disk holding the database is full (since {full_since.isoformat(timespec='seconds')}); "
            "every POST gets 503 and nothing is stored until space is freed"
        )
    return jsonify(ok=True, database=engine.dialect.name)


def prometheus_metrics():
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


def openapi():
    return jsonify(openapi_document())


def ingest_engenius():
    """Signature first, over the raw bytes, under the key of the network the body names (found without decoding
    it) or the installation's; decoded only then, and the key must be the one its `network_id` calls for."""
    settings: Settings = _state()["settings"]
    if not settings.engenius_configured():
        verify_engenius_signature(b"", None, None)  # raises the "not configured" refusal
    body = _read_body(request)
    named = [settings.engenius_keys[id_] for id_ in raw_values(body, "network_id") if id_ in settings.engenius_keys]
    verified = verify_engenius_signature_any(body, request.headers.get("Signature"), [*named, settings.engenius_key])
    document = decode(body)
    if isinstance(document, dict):
        network_id = document.get("network_id")
        expected = settings.engenius_key_for(None if network_id is None else str(network_id))
        if expected is None or not hmac.compare_digest(expected.encode(), verified.encode()):
            raise Unauthorized("Signature does not match the body under the key of its network_id")
    g.authenticated = True
    parsed = _parse_authenticated("engenius", body, document)
    network = _top_level_id(document, "network_id")
    if network is not None and network in settings.engenius_keys:  # a network's own key, not the installation's
        _vouched_for(parsed, settings.aps_of_network(network), f"the key of EnGenius network {network}", "node_mac")
    return _store(parsed)


def ingest_aerohive():
    """The secret first, from the headers, the query or (found without decoding) the body; decoded only then,
    and the secret must be the one its `ownerId` calls for."""
    settings: Settings = _state()["settings"]
    if not settings.aerohive_configured():
        verify_shared_secret([], None, vendor="Aerohive", setting="PRESENCE_AEROHIVE_SECRET")
    body = _read_body(request)
    sent = _aerohive_secrets_sent(request, None) + raw_values(body, "secret")
    configured = [secret for secret in (settings.aerohive_secret, *settings.aerohive_secrets.values()) if secret]
    if matching_secret(sent, configured) is None:
        verify_shared_secret(sent, configured[0], vendor="Aerohive", setting="PRESENCE_AEROHIVE_SECRET")
        raise Unauthorized("Aerohive secret does not match")  # not reached: no candidate matched
    document = decode(body)
    owner_id = document.get("ownerId") if isinstance(document, dict) else None
    secret = settings.aerohive_secret_for(None if owner_id is None else str(owner_id))
    verify_shared_secret(
        _aerohive_secrets_sent(request, document), secret, vendor="Aerohive", setting="PRESENCE_AEROHIVE_SECRET"
    )
    g.authenticated = True
    parsed = _parse_authenticated("aerohive", body, document)
    owner = _top_level_id(document, "ownerId")
    if owner is not None and owner in settings.aerohive_secrets:  # an owner's own secret
        _vouched_for(parsed, settings.aps_of_owner(owner), f"the secret of HiveManager owner {owner}", "apMac")
    return _store(parsed)


def meraki_validator():
    """Meraki's dashboard GETs the Post URL and expects the validator string back, verbatim, as the body."""
    validator = _state()["settings"].meraki_validator
    if not validator:
        raise Unauthorized("Meraki is not configured on this receiver: set PRESENCE_MERAKI_VALIDATOR")
    return Response(validator, content_type="text/plain; charset=utf-8")


def ingest_meraki():
    """Meraki sends its secret in the body only: found in the raw bytes and checked before the body is decoded,
    then required as the decoded document's own top-level `secret`."""
    settings: Settings = _state()["settings"]
    if not settings.meraki_secret:
        verify_shared_secret([], None, vendor="Meraki", setting="PRESENCE_MERAKI_SECRET")
    body = _read_body(request)
    check = partial(
        verify_shared_secret,
        secret=settings.meraki_secret,
        vendor="Meraki",
        setting="PRESENCE_MERAKI_SECRET",
        transports=MERAKI_TRANSPORTS,
    )
    check(raw_values(body, "secret"))
    document = decode(body)
    sent = document.get("secret") if isinstance(document, dict) else None
    check([sent] if isinstance(sent, str) else [])
    g.authenticated = True
    return _store(_parse_authenticated("meraki", body, document))


# --- steps -------------------------------------------------------------------------------------------------


def _top_level_id(document: Any, name: str) -> str | None:
    value = document.get(name) if isinstance(document, dict) else None
    return None if value is None or isinstance(value, bool) else str(value)


def _vouched_for(parsed: Parsed, allowed: frozenset[str], credential: str, field: str) -> None:
    """Refuse (403, logged) a post whose AP is not one the credential was configured for, once it has any: shop
    B's key must not store observations for shop A's AP, nor refresh its last report (hiding a silent AP)."""
    if not allowed:
        return
    strangers = sorted(set(parsed.reporters) - allowed)
    if strangers:
        log.warning(
            "a key was used for an AP it is not configured for",
            extra={"vendor": parsed.vendor, "credential": credential, "ap_mac": strangers[0], "remote": _client()},
        )
        message = f"{credential} is not configured for AP {strangers[0]} ([[aps]] in PRESENCE_CONFIG)"
        raise Forbidden(message, field=field)


def _read_body(req: Request) -> bytes:
    """The raw body, refused with 413 past the limit without ever holding more than the limit in memory.

    A declared Content-Length over the limit is refused before reading. A chunked body (no length) is read
    from the WSGI stream in pieces up to one byte past the limit: werkzeug would silently cut such a body at
    the limit, which would turn an oversized POST into a confusing signature or JSON error.
    """
    limit = _state()["settings"].max_body_bytes
    too_large = BodyTooLarge(f"body is larger than the limit of {limit} bytes (PRESENCE_MAX_BODY_BYTES)")
    if req.content_length is not None:
        if req.content_length > limit:
            raise too_large
        try:
            body = req.get_data(cache=True)
        except Exception as exc:  # werkzeug's ClientDisconnected, or the server's own reader giving up
            raise _unreadable(exc) from None
        if len(body) < req.content_length:
            raise MalformedBody(f"the body ended after {len(body)} of the {req.content_length} bytes announced")
        return body
    if req.environ.get(BODY_OVER_LIMIT):  # receiver.worker buffered only the body's start: not read to the end
        raise too_large
    stream = req.environ["wsgi.input"]
    pieces: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            piece = stream.read(min(_READ_CHUNK_BYTES, limit + 1 - size))
        except Exception as exc:  # an invalid chunk size or terminator, or a client gone mid-body
            raise _unreadable(exc) from None
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)
        size += len(piece)
    raise too_large


def _unreadable(exc: Exception) -> MalformedBody:
    """The sender's fault, whatever the server's reader raised: a 400 (counted as a refusal), never a traceback.

    Only reading the body is in the try: gunicorn raises its own ParseException subclasses (InvalidChunkSize,
    ChunkMissingTerminator...) or NoMoreData (an OSError), werkzeug ClientDisconnected, a socket OSError.
    """
    reason = str(exc).strip() or type(exc).__name__
    return MalformedBody(f"the body could not be read (malformed transfer encoding, or cut off): {reason[:80]}")


def _parse_authenticated(vendor: str, body: bytes, document: Any) -> Parsed:
    """Validate an authenticated body, its times against the time it was received; one that fails is quarantined
    before the 4xx goes back."""
    state = _state()
    received_at = g.received_at = datetime.now(UTC)
    try:
        parsed = parse(vendor, document)
        state["window"].check(parsed.sightings, received_at, "the time the POST was received")
        return parsed
    except ReceiverError as error:
        try:
            quarantine.keep(state["engine"], vendor, body, error, received_at, state["quarantine"])
        except SQLAlchemyError:
            log.exception("could not quarantine a refused POST", extra={"vendor": vendor})
        raise


def _aerohive_secrets_sent(req: Request, document: Any) -> list[str]:
    """Every place HiveManager's shared secret may travel: Bearer, Basic password, body field, query string."""
    candidates = []
    authorization = req.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        candidates.append(credentials.strip())
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            decoded = ""
        _, separator, password = decoded.partition(":")
        if separator:
            candidates.append(password)
    if isinstance(document, dict) and isinstance(document.get("secret"), str):
        candidates.append(document["secret"])
    if "secret" in req.args:
        candidates.append(req.args["secret"])
    return candidates


def _store(parsed: Parsed):
    vendor = parsed.vendor
    received_at: datetime = g.received_at  # the time its records were held to
    storage: StorageHealth = _state()["storage"]
    try:
        result: StoreResult = _state()["ingestor"].store(parsed, received_at)
    except (SQLAlchemyError, OSError) as exc:
        if is_disk_full(exc):  # expected while it lasts, once per POST: a line each, no traceback
            storage.full()
            log.warning("disk full: a POST was not stored", extra={"vendor": vendor, "error": str(exc)[:200]})
            raise ServiceUnavailable(
                "the disk holding the database is full: nothing was stored (the receiver recovers by itself "
                "once space is freed)"
            ) from exc
        log.exception("could not store a POST", extra={"vendor": vendor, "records": len(parsed.sightings)})
        raise ServiceUnavailable("the database could not store this POST; nothing was stored") from exc
    storage.stored()
    metrics.RECORDS_STORED.labels(vendor).inc(result.stored)
    metrics.RECORDS_DUPLICATE.labels(vendor).inc(result.duplicates)
    for ap_mac in {sighting.ap_mac for sighting in parsed.sightings}:
        metrics.AP_LAST_REPORT.labels(vendor, ap_mac).set(received_at.timestamp())
    answer = {"ok": True, "stored": result.stored, "duplicates": result.duplicates}
    if parsed.ignored:
        answer["ignored"] = parsed.ignored  # Meraki Bluetooth devices: acknowledged, not Wi-Fi observations
    g.ingest_log = {"records": len(parsed.sightings), **answer}
    return jsonify(answer)


# --- instrumentation ---------------------------------------------------------------------------------------

_INGEST_VENDORS = {"/ingest/engenius": "engenius", "/ingest/aerohive": "aerohive", "/ingest/meraki": "meraki"}


def _start_timer() -> None:
    """Start the clock, and note whether this client has been refused too often (see _receiver_error)."""
    g.started = time.perf_counter()
    if request.path.startswith("/ingest/"):
        g.refusal_wait = _state()["limiter"].blocked(_client())


def _client() -> str:
    """Who the refusal limit counts: the peer's address, or behind a trusted proxy the address it forwards."""
    settings: Settings = _state()["settings"]
    return client_address(request.remote_addr or "", request.headers.get("X-Forwarded-For"), settings.trusted_proxies)


def _count_ingest(response: Response) -> Response:
    """Count every ingest answer by vendor and status (refusals included), time it, and log it as one line."""
    rule = request.url_rule.rule if request.url_rule else None
    vendor = _INGEST_VENDORS.get(rule or "")
    if vendor is None:
        return response
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    metrics.REQUESTS.labels(vendor, str(response.status_code)).inc()
    if 400 <= response.status_code < 500 and response.status_code != 429:
        _state()["limiter"].refused(_client())
    metrics.LATENCY.labels(vendor).observe(elapsed)
    details = {
        "vendor": vendor,
        "status": response.status_code,
        "ms": round(elapsed * 1000, 1),
        "remote": request.remote_addr,
    }
    if _state()["settings"].trusted_proxies:
        details["client"] = _client()
    details.update(g.get("ingest_log", {}))
    if response.status_code >= 400:
        details["error"] = (response.get_json(silent=True) or {}).get("error")
    log.info("ingest", extra=details)
    return response


def record_refusal(app: Flask, client: str, path: str, status: int, message: str) -> None:
    """Count and log a refusal made before the request reached the app (receiver.worker: a request too slow to
    arrive, headers too large), as _count_ingest does for the app's own."""
    state = app.extensions["presence"]
    state["limiter"].refused(client)
    vendor = _INGEST_VENDORS.get(path)
    if vendor is not None:
        metrics.REQUESTS.labels(vendor, str(status)).inc()
    log.info("ingest", extra={"vendor": vendor, "path": path, "status": status, "remote": client, "error": message})


# --- error shape -------------------------------------------------------------------------------------------


def _receiver_error(error: ReceiverError):
    wait = g.get("refusal_wait", 0.0)
    if wait and error.status < 500 and not g.get("authenticated"):
        # A client refused too often gets 429 for every refusal until its window ends, but only for refusals:
        # a post whose signature or secret verifies is served whoever else posted from its address.
        error = TooManyRefusals(
            f"too many refused posts from this address; try again in {wait:.0f} s", retry_after=wait
        )
    if error.status >= 500:
        log.warning("%s", error.message)
    response = jsonify(error.body())
    if isinstance(error, TooManyRefusals):
        response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return response, error.status


def _http_error(error: HTTPException):
    if error.code == 413:
        return _receiver_error(BodyTooLarge("body is larger than the configured limit (PRESENCE_MAX_BODY_BYTES)"))
    status = error.code or 500
    return jsonify({"ok": False, "status": status, "error": error.description or error.name}), status


def _unexpected_error(error: Exception):
    log.exception("unexpected error while handling %s %s", request.method, request.path)
    return jsonify({"ok": False, "status": 500, "error": "internal error; nothing was stored"}), 500
