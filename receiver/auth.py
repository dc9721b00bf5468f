"""Checking that a POST really comes from the vendor: EnGenius HMAC signatures, Aerohive shared secrets.

Every comparison goes through hmac.compare_digest so the time taken says nothing about how much matched.

Authentication comes before the body is decoded: a JSON decode of an unauthenticated 8 MB `[{},{},...]` costs
hundreds of MiB. The EnGenius signature covers the raw bytes; which key to check it under (per `network_id`)
and a secret sent in the body (Aerohive, Meraki) are found by `raw_values`, a scan of the raw bytes for that
key's values. Once decoded, the views check that the key or secret that verified is the one the document's own
`network_id` / `ownerId` / `secret` call for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable

from receiver.errors import Unauthorized

_SHA256_BYTES = 32


def decode_signature(header: str) -> bytes | None:
    """The 32 digest bytes from a `Signature` header in hex (either case) or base64 (standard or URL-safe).

    Returns None when the header is none of those. A 64-character header is read as hex: base64 of 32 bytes
    is 44 characters, so the two encodings cannot be confused.
    """
    text = header.strip()
    if len(text) == 2 * _SHA256_BYTES:
        try:
            return bytes.fromhex(text)
        except ValueError:
            return None
    padded = text + "=" * (-len(text) % 4)
    for alphabet in (None, b"-_"):
        try:
            digest = base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(digest) == _SHA256_BYTES:
            return digest
    return None


_MAX_RAW_VALUES = 8  # a real body names its network_id or secret once; a forger gets a few tries, not thousands


def raw_values(body: bytes, name: str) -> list[str]:
    """The values of `"name": <string or integer>` anywhere in a raw JSON body, without decoding the body.

    Anywhere, not only at the top level: the caller checks the decoded document afterwards. At most a few are
    returned, each at most 512 characters (a network id or a secret, not a payload).
    """
    pattern = re.compile(rb'"' + re.escape(name.encode()) + rb'"\s*:\s*(-?\d{1,40}|"(?:[^"\\]|\\.){0,512}")')
    values: list[str] = []
    for match in pattern.finditer(body):
        token = match.group(1)
        try:
            value = json.loads(token) if token.startswith(b'"') else token.decode()
        except ValueError:
            continue
        if isinstance(value, str) and value not in values:
            values.append(value)
        if len(values) >= _MAX_RAW_VALUES:
            break
    return values


def matching_secret(candidates: Iterable[str], secrets: Iterable[str]) -> str | None:
    """The configured secret one of the candidates equals, or None; every pair is compared in constant time."""
    found = None
    for secret in dict.fromkeys(secrets):
        expected = secret.encode("utf-8", "surrogatepass")
        for candidate in candidates:
            if hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), expected):
                found = secret
    return found


def verify_engenius_signature_any(body: bytes, header: str | None, keys: Iterable[str]) -> str:
    """The key among `keys` under which `header` is HMAC-SHA256 of the raw body; raises Unauthorized otherwise
    (with the same messages as verify_engenius_signature)."""
    error = Unauthorized("EnGenius is not configured on this receiver: set PRESENCE_ENGENIUS_KEY")
    for key in dict.fromkeys(key for key in keys if key):
        try:
            verify_engenius_signature(body, header, key)
        except Unauthorized as exc:
            error = exc
            continue
        return key
    raise error


def verify_engenius_signature(body: bytes, header: str | None, key: str | None) -> None:
    """Raise Unauthorized unless `header` is HMAC-SHA256(key, raw body)."""
    if not key:
        raise Unauthorized("EnGenius is not configured on this receiver: set PRESENCE_ENGENIUS_KEY")
    if not header:
        raise Unauthorized("missing Signature header (HMAC-SHA256 of the body under the EnGenius key)")
    given = decode_signature(header)
    if given is None:
        raise Unauthorized("Signature header is not a hex or base64 HMAC-SHA256 digest")
    expected = hmac.new(key.encode(), body, hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise Unauthorized("Signature does not match the body under the configured key")


AEROHIVE_TRANSPORTS = (
    "send it as a Bearer token, a Basic auth password, a 'secret' body field or a 'secret' query parameter"
)
MERAKI_TRANSPORTS = "Meraki sends it as the 'secret' field of the body (the Secret set with the Post URL)"


def verify_shared_secret(
    candidates: list[str], secret: str | None, *, vendor: str, setting: str, transports: str = AEROHIVE_TRANSPORTS
) -> None:
    """Raise Unauthorized unless one of the secrets the request carried equals the configured one.

    Every candidate is compared, so the time taken does not depend on which transport carried the secret.
    `transports` says, when none was sent, where this vendor puts it.
    """
    if not secret:
        raise Unauthorized(f"{vendor} is not configured on this receiver: set {setting}")
    if not candidates:
        raise Unauthorized(f"missing {vendor} secret: {transports}")
    expected = secret.encode("utf-8", "surrogatepass")
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), expected)
    if not matched:
        raise Unauthorized(f"{vendor} secret does not match")
