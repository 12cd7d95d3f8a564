"""The staff token: from `web.token_file` or the systemd credential `web_token`, never YAML."""

import hashlib
import hmac
import os
from pathlib import Path

from edge.config.loader import ConfigError
from edge.config.web import WEB_TOKEN_CREDENTIAL, WebConfig

MIN_TOKEN_CHARS = 16


def _token_path(config: WebConfig) -> Path | None:
    if config.token_file is not None:
        return config.token_file
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    candidate = Path(directory) / WEB_TOKEN_CREDENTIAL if directory else None
    return candidate if candidate is not None and candidate.is_file() else None


def load_web_token(config: WebConfig) -> str | None:
    """The staff token, or None when none is configured (staff pages: loopback only)."""
    path = _token_path(config)
    if path is None:
        return None
    try:
        # Trailing newlines come from editors and `echo`; they are never part of a token.
        token = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"web.token_file: cannot read: {exc}"]) from exc
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            str(path), [f"web.token_file: the token needs at least {MIN_TOKEN_CHARS} characters"]
        )
    return token


class StaffToken:
    """Checks a presented token or session cookie in constant time."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode("utf-8") if token is not None else None

    @property
    def configured(self) -> bool:
        """A token exists (otherwise only loopback clients are staff)."""
        return self._token is not None

    def session(self) -> str:
        """The cookie value: derived from the token, so rotating the token logs everyone out."""
        if self._token is None:
            raise RuntimeError("no staff token configured")
        return hmac.new(self._token, b"moodsense-web-session/1", hashlib.sha256).hexdigest()

    def check_token(self, presented: str) -> bool:
        """`presented` is the token itself."""
        return self._token is not None and hmac.compare_digest(
            presented.encode("utf-8"), self._token
        )

    def check_session(self, presented: str) -> bool:
        """`presented` is a session cookie value."""
        return self._token is not None and hmac.compare_digest(
            presented.encode("utf-8"), self.session().encode("utf-8")
        )
