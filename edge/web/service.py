"""One call for the live service: the pages around its pipeline, served until `stop()`."""

import logging

from edge.pipeline.actions import KioskActions
from edge.pipeline.publishing import OutputPublisher
from edge.web.app import create_app
from edge.web.config import WebConfig
from edge.web.hub import EventHub
from edge.web.server import WebServer
from edge.web.survey import SurveySink
from edge.web.token import load_web_token

logger = logging.getLogger(__name__)


def start_web(
    config: WebConfig,
    actions: KioskActions,
    publisher: OutputPublisher,
    survey: SurveySink | None = None,
) -> WebServer | None:
    """Serve the kiosk and staff pages when `config.enabled`; None otherwise.

    Raises `ConfigError` (unreadable or short token file) or `WebServerError` (port taken).
    """
    if not config.enabled:
        return None
    token = load_web_token(config)
    if token is None:
        logger.warning(
            "No staff token (web.token_file or credential 'web_token'): staff pages are closed"
        )
    hub = EventHub(survey_window_s=config.survey_window_s)
    state = actions.state()
    hub.prime(state.consent, state.mode)
    publisher.add_listener(hub.listener)
    server = WebServer(create_app(actions, hub, config, token=token, survey=survey), hub, config)
    server.start()
    return server
