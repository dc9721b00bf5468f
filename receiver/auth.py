"""Checking that a POST really comes from the vendor: EnGenius HMAC signatures, Aerohive shared secrets.

Every comparison goes through hmac.compare_digest so the time taken says nothing about how much matched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

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
