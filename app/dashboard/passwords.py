"""Which passwords open the dashboard, checking one, and counting wrong ones: plain Python, no Streamlit, so
`presence dashboard` can check the configuration before Streamlit starts (the login form itself is `auth`).

Where the passwords come from (`credentials`):
- `PRESENCE_DASHBOARD_PASSWORD`: one shared password (handy for `presence dashboard` under systemd). When it is
  set and not empty it takes precedence over `password` in secrets.toml;
- Streamlit secrets (`.streamlit/secrets.toml` in the directory the dashboard starts from, or
  `~/.streamlit/secrets.toml`): `password = "..."`, the shared password, and/or a `[passwords]` table of
  user name = password, so one person's access can be taken away without giving everyone a new password.

Passwords are compared as SHA-256 digests with `hmac.compare_digest`, so the time taken says nothing about how
much matched, a password's length, or whether a user name exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from config.settings import ConfigError

PASSWORD_ENV = "PRESENCE_DASHBOARD_PASSWORD"
SHARED_KEY = "password"  # secrets.toml: the shared password
USERS_KEY = "passwords"  # secrets.toml: [passwords] user name = password
# An address with this many wrong passwords within the window gets no answer until the oldest leaves the window:
# about five guesses a minute, however many sessions a guesser opens, while a mistyping person barely notices.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=1)
# Keys the fingerprints of this process's logins, so no plain hash of a password sits in a session's memory.
_FINGERPRINT_KEY = secrets.token_bytes(32)


@dataclass(frozen=True)
class Credentials:
    """The passwords that open the dashboard (repr hides them: a traceback or log line must never show one)."""

    shared: str | None = field(default=None, repr=False)
    users: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def required(self) -> bool:
        return bool(self.shared or self.users)

    def check(self, user: str, password: str) -> str | None:
        """Who `password` lets in: the user name, "" for the shared password, None when it is wrong.

        An empty `user` means the shared password. An unknown user name is compared with an empty expectation,
        the same way and in the same time as a known one.
        """
        name = user.strip()
        expected = self.users.get(name) if name else self.shared
        matched = hmac.compare_digest(_digest(password), _digest(expected or ""))
        return name if matched and expected else None

    def fingerprint(self, who: str) -> bytes | None:
        """A keyed digest of the password that lets `who` in ("": the shared one), None when there is none.

        A session keeps it with its login; the login holds while the fingerprint is unchanged, so removing a user
        from secrets.toml or changing a password (Streamlit rereads the file when it changes) logs them out.
        """
        expected = self.users.get(who) if who else self.shared
        return hmac.new(_FINGERPRINT_KEY, expected.encode(), hashlib.sha256).digest() if expected else None

    def still_opens(self, who: str, fingerprint: bytes) -> bool:
        """Whether a login made with `fingerprint` still holds."""
        current = self.fingerprint(who)
        return current is not None and hmac.compare_digest(current, fingerprint)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def credentials(secrets: Mapping[str, Any], environ: Mapping[str, str]) -> Credentials:
    """The passwords configured in Streamlit `secrets` and the environment; ConfigError when malformed."""
    shared = secrets.get(SHARED_KEY)
    if shared is not None and not isinstance(shared, str):
        raise ConfigError(f'the dashboard password in secrets.toml must be text: {SHARED_KEY} = "..."')
    users = secrets.get(USERS_KEY, {})
    if not isinstance(users, Mapping) or not all(isinstance(value, str) and value for value in users.values()):
        raise ConfigError(f'[{USERS_KEY}] in secrets.toml must be a table of user name = "password" lines')
    if any(not str(name).strip() for name in users):
        raise ConfigError(f"[{USERS_KEY}] in secrets.toml has an empty user name")
    return Credentials(
        shared=environ.get(PASSWORD_ENV) or shared or None,
        users={str(name).strip(): value for name, value in users.items()},
    )


def secret_file_paths() -> list[str]:
    """Where Streamlit looks for secrets (its `secrets.files` option: ~/.streamlit and ./.streamlit by default)."""
    from streamlit import config  # only Streamlit's option reader; the CLI must not import all of Streamlit

    return [str(path) for path in config.get_option("secrets.files")]


def secret_files(paths: Iterable[str | Path]) -> dict[str, Any]:
    """The merged content of the secrets.toml files among `paths` that exist, later ones winning, as Streamlit
    merges them; ConfigError when one cannot be read."""
    merged: dict[str, Any] = {}
    for path in map(Path, paths):
        if path.suffix != ".toml" or not path.is_file():
            continue
        try:
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
    return merged


@dataclass
class Attempts:
    """Recent wrong passwords (and checks in progress) per client address; one instance serves the whole server
    process, every session: `auth` keeps it in a module, outside Streamlit's caches, which any client can empty."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def wait(self, address: str, now: float) -> float:
        """Seconds until `address` may try again (0: now); `now` on a monotonic clock."""
        with self.lock:
            return self._wait(address, now)

    def attempt(self, address: str, now: float) -> float:
        """Take one try for `address`, before its password is checked: 0 when it may check (the try is counted as
        a failure until `succeeded` says otherwise), else the seconds to wait, counting nothing.

        Wait and record are one step under the lock, so sessions checking at the same moment cannot all pass
        the wait and then record: at most MAX_FAILURES checks a window per address, however many sessions.
        """
        with self.lock:
            wait = self._wait(address, now)
            if wait <= 0:
                self.failures.setdefault(address, deque()).append(now)
            return wait

    def _wait(self, address: str, now: float) -> float:
        recent = self._prune(now).get(address)
        if recent is None or len(recent) < MAX_FAILURES:
            return 0.0
        return recent[0] + FAILURE_WINDOW.total_seconds() - now

    def failed(self, address: str, now: float) -> None:
        with self.lock:
            self._prune(now).setdefault(address, deque()).append(now)

    def succeeded(self, address: str) -> None:
        with self.lock:
            self.failures.pop(address, None)

    def _prune(self, now: float) -> dict[str, deque[float]]:
        """Forget failures older than the window, and addresses left with none (the dict stays small)."""
        cutoff = now - FAILURE_WINDOW.total_seconds()
        for address in list(self.failures):
            recent = self.failures[address]
            while recent and recent[0] <= cutoff:
                recent.popleft()
            if not recent:
                del self.failures[address]
        return self.failures
