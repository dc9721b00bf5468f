"""The receiver's refusals: a small exception hierarchy, each class carrying its HTTP status.

Every 4xx leaves the receiver in one shape, `{"ok": false, "status": 4xx, "error": "...", "field": ...}`,
produced by the handler in receiver.app from these exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError


class ReceiverError(Exception):
    """Base class: a request we refuse, with the status and a message for the sender."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict:
        body: dict = {"ok": False, "status": self.status, "error": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class MalformedBody(ReceiverError):
    """The body is not JSON we can read."""

    status = 400


class InvalidPayload(ReceiverError):
    """The JSON is readable but not the vendor's shape, or holds impossible values."""

    status = 422

    @classmethod
    def from_validation(cls, error: ValidationError) -> InvalidPayload:
        problems = error.errors(include_url=False, include_input=False)
        first = problems[0]
        field = _dotted(first["loc"]) or None
        details = "; ".join(f"{_dotted(p['loc']) or 'body'}: {_message(p)}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        return cls(f"invalid payload: {details}{more}", field=field)


class Unauthorized(ReceiverError):
    """The signature or shared secret is missing, wrong, or the vendor has none configured."""

    status = 401


class Forbidden(ReceiverError):
    """The key or secret is right, but not for this AP: a network's key vouches only for that network's APs."""

    status = 403


class BodyTooLarge(ReceiverError):
    status = 413


class UnsupportedMediaType(ReceiverError):
    status = 415


class TooManyRefusals(ReceiverError):
    """This client was refused too often lately; it is told when to come back (Retry-After)."""

    status = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(ReceiverError):
    """Our fault, not the sender's (the database is unreachable or locked too long): 503, try again."""

    status = 503


def _dotted(location: tuple) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _message(problem: Mapping[str, Any]) -> str:
    # pydantic prefixes our own validators' messages with "Value error, "; the sender needs only the reason.
    return str(problem["msg"]).removeprefix("Value error, ")
