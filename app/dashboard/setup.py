"""What the Get started page tells an installer: the receiver's ingest URLs and whether the keys are set."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from config.settings import Settings

RECEIVER_PORT = 8000  # `presence serve`'s default --port


@dataclass(frozen=True)
class Guide:
    host: str
    port: int
    engenius_configured: bool
    aerohive_configured: bool
    meraki_secret_configured: bool = False
    meraki_validator_configured: bool = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def engenius_url(self) -> str:
        return f"{self.base_url}/ingest/engenius"

    @property
    def aerohive_url(self) -> str:
        return f"{self.base_url}/ingest/aerohive"

    @property
    def meraki_url(self) -> str:
        return f"{self.base_url}/ingest/meraki"

    @property
    def meraki_configured(self) -> bool:
        return self.meraki_secret_configured and self.meraki_validator_configured

    @property
    def health_url(self) -> str:
        return f"{self.base_url}/healthz"

    @property
    def engenius_status(self) -> str:
        if self.engenius_configured:
            return "The receiver has an EnGenius key: enter the same one in EnGenius Cloud."
        return "No EnGenius key yet: set PRESENCE_ENGENIUS_KEY (any long random text) where the receiver runs."

    @property
    def aerohive_status(self) -> str:
        if self.aerohive_configured:
            return "The receiver has a HiveManager secret: enter the same one as the Access Token."
        return "No HiveManager secret yet: set PRESENCE_AEROHIVE_SECRET where the receiver runs."

    @property
    def meraki_status(self) -> str:
        if self.meraki_configured:
            return "The receiver has a Meraki secret and validator: enter the same secret in Meraki, then Validate."
        missing = [
            name
            for name, configured in (
                ("PRESENCE_MERAKI_SECRET (any long random text)", self.meraki_secret_configured),
                ("PRESENCE_MERAKI_VALIDATOR (the validator Meraki shows)", self.meraki_validator_configured),
            )
            if not configured
        ]
        return f"Not ready for Meraki yet: set {' and '.join(missing)} where the receiver runs."


def guide(settings: Settings, host_header: str | None, port: int = RECEIVER_PORT) -> Guide:
    """The guide for this installation; the host is the one the browser used to reach the dashboard, which is
    usually the machine the receiver runs on too (the APs must be able to reach it)."""
    host = urlsplit(f"//{host_header}").hostname if host_header else None
    return Guide(
        host=host or "<this machine's address>",
        port=port,
        engenius_configured=settings.engenius_configured(),
        aerohive_configured=settings.aerohive_configured(),
        meraki_secret_configured=bool(settings.meraki_secret),
        meraki_validator_configured=bool(settings.meraki_validator),
    )
