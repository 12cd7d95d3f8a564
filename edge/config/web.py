"""The `web` config section: the kiosk screen and staff tablet served by the device."""

from pathlib import Path

from pydantic import Field, model_validator

from edge.config.base import StrictModel

WEB_TOKEN_CREDENTIAL = "web_token"  # noqa: S105 - a credential *name*, not a secret
"""systemd credential (under $CREDENTIALS_DIRECTORY) holding the staff token."""
SITE_COMMAND_KEY_CREDENTIAL = "site_command_key"
"""systemd credential holding the site's command key (acknowledging other devices' alerts)."""


class RateLimit(StrictModel):
    """A token bucket per client address: `burst` actions at once, refilled per minute."""

    per_minute: float = Field(default=30.0, gt=0, le=6000, description="Refill rate, per minute.")
    burst: int = Field(default=10, ge=1, le=1000, description="Bucket size.")


class WebConfig(StrictModel):
    """Kiosk and staff pages. Loopback only by default; the store LAN only when configured."""

    enabled: bool = Field(default=False, description="Serve the kiosk and staff pages.")
    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address to bind. Loopback by default; a LAN address (or 0.0.0.0) opens the "
        "staff pages to the store network (they still need the token).",
    )
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port (0: any free port).")
    token_file: Path | None = Field(
        default=None,
        description="File holding the staff token (at least 16 characters); falls back to the "
        "credential 'web_token'. Without a token, staff pages work on loopback only.",
    )
    tls_cert_file: Path | None = Field(
        default=None, description="PEM certificate: serve HTTPS (recommended on a LAN)."
    )
    tls_key_file: Path | None = Field(default=None, description="PEM key for tls_cert_file.")
    languages: list[str] = Field(
        default_factory=lambda: ["en", "nl"],
        min_length=1,
        description="Languages offered on the kiosk, the first is the default; each needs a "
        "message catalogue (shipped: en, nl).",
    )
    messages_dir: Path | None = Field(
        default=None,
        description="Directory of '<lang>.json' files whose keys override the shipped texts.",
    )
    actions: RateLimit = Field(default_factory=RateLimit, description="Limit on actions.")
    pairing: RateLimit = Field(
        default_factory=lambda: RateLimit(per_minute=5, burst=5),
        description="Limit on pairing attempts (guessing the token).",
    )
    survey_window_s: float = Field(
        default=120.0, gt=0, le=3600, description="How long after an interaction the survey shows."
    )
    store_view: bool = Field(
        default=False,
        description="Also show the other devices of this site (read from the broker, same "
        "settings as the publisher) on the staff page, grouped by device. Off by default.",
    )
    site_command_key_file: Path | None = Field(
        default=None,
        description="File with the command key the site's devices accept (their "
        "commands.key_file); falls back to the credential 'site_command_key'. Needed to "
        "acknowledge another device's alert from this tablet; without it that button is off.",
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> "WebConfig":
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        for lang in self.languages:
            if not (lang.isascii() and lang.isalpha() and 2 <= len(lang) <= 8):
                raise ValueError(f"language {lang!r} is not a language code like 'en'")
        return self
