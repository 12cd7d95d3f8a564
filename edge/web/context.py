"""What every request handler needs, built once by `create_app`."""

from dataclasses import dataclass, field

from edge.config.web import WebConfig
from edge.pipeline.actions import KioskActions
from edge.web.hub import EventHub
from edge.web.i18n import Templates, load_catalogues
from edge.web.security import RateLimiter
from edge.web.store_link import StoreLink
from edge.web.survey import LogSurveySink, SurveySink
from edge.web.token import StaffToken


@dataclass(slots=True)
class WebContext:
    """The app's collaborators and its per-process state (rate limit buckets)."""

    actions: KioskActions
    hub: EventHub
    config: WebConfig
    token: StaffToken
    survey: SurveySink = field(default_factory=LogSurveySink)
    store: StoreLink | None = None
    """The store view's broker link (acknowledging other devices' alerts); None when off."""
    catalogues: dict[str, dict[str, str]] = field(init=False)
    templates: Templates = field(default_factory=Templates)
    action_limit: RateLimiter = field(init=False)
    pairing_limit: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.catalogues = load_catalogues(self.config.languages, self.config.messages_dir)
        self.action_limit = RateLimiter(self.config.actions)
        self.pairing_limit = RateLimiter(self.config.pairing)
