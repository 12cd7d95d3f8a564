"""Message catalogues and page templates.

Catalogues are flat JSON objects (`edge/web/i18n/<lang>.json`); English is the fallback for a
key another language lacks; `web.messages_dir` may override any key per language. Templates
(`edge/web/templates/*.html`) hold `{{ key }}` placeholders, filled with HTML-escaped texts;
the page scripts get the same catalogue as a JSON data block (not executed, so the CSP's
`script-src 'self'` still holds).
"""

import html
import json
import re
from importlib.resources import files
from pathlib import Path

from edge.config.loader import ConfigError

FALLBACK = "en"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_.]+)\s*\}\}")
_PACKAGE = files("edge.web")


def _read_catalogue(text: str, source: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(source, [f"not valid JSON: {exc}"]) from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(source, ["a message catalogue is a JSON object of strings"])
    return data


def load_catalogues(languages: list[str], overrides: Path | None) -> dict[str, dict[str, str]]:
    """Every configured language's messages (shipped, then overridden, English as fallback)."""
    shipped = {
        entry.name.removesuffix(".json"): _read_catalogue(entry.read_text("utf-8"), entry.name)
        for entry in (_PACKAGE / "i18n").iterdir()
        if entry.name.endswith(".json")
    }
    catalogues: dict[str, dict[str, str]] = {}
    for lang in languages:
        extra: dict[str, str] = {}
        if overrides is not None and (overrides / f"{lang}.json").is_file():
            path = overrides / f"{lang}.json"
            extra = _read_catalogue(path.read_text("utf-8"), str(path))
        if lang not in shipped and not extra:
            raise ConfigError(f"web.languages: {lang}", ["no message catalogue for it"])
        catalogues[lang] = shipped[FALLBACK] | shipped.get(lang, {}) | extra
    return catalogues


def pick_language(requested: str | None, languages: list[str]) -> str:
    """`requested` when offered, else the default (the first configured)."""
    return requested if requested in languages else languages[0]


class Templates:
    """The page templates, read once."""

    def __init__(self) -> None:
        self._pages = {
            entry.name.removesuffix(".html"): entry.read_text("utf-8")
            for entry in (_PACKAGE / "templates").iterdir()
            if entry.name.endswith(".html")
        }

    def placeholders(self, page: str) -> set[str]:
        """The keys a page uses (tests check every catalogue has them)."""
        return set(_PLACEHOLDER.findall(self._pages[page]))

    def render(self, page: str, messages: dict[str, str], values: dict[str, str]) -> str:
        """The page with texts filled in; `values` (already safe) win over messages."""

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in values:
                return values[key]
            return html.escape(messages[key])

        return _PLACEHOLDER.sub(fill, self._pages[page])


def json_block(data: object) -> str:
    """JSON safe inside `<script type="application/json">` (no `</script>` breaking out)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
