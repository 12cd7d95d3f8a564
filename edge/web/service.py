"""One call for the live service: the pages around its pipeline, served until `stop()`."""

import logging

from edge.config import EdgeConfig, Secrets
from edge.config.web import WebConfig
from edge.events.topics import Topics
from edge.pipeline.actions import KioskActions
from edge.pipeline.publishing import OutputPublisher
from edge.web.app import create_app
from edge.web.command_signer import CommandSigner, load_site_command_key
from edge.web.hub import EventHub
from edge.web.server import WebServer
from edge.web.store import StoreView
from edge.web.store_link import StoreLink
from edge.web.survey import SurveySink
from edge.web.token import load_web_token

logger = logging.getLogger(__name__)


def start_web(
    config: WebConfig,
    actions: KioskActions,
    publisher: OutputPublisher,
    survey: SurveySink | None = None,
    device: tuple[EdgeConfig, Secrets] | None = None,
) -> WebServer | None:
    """Serve the kiosk and staff pages when `config.enabled`; None otherwise.

    `device` (the service's whole config and its secrets) gives the store view its broker
    settings. Raises `ConfigError` (unreadable or short token file, unreadable site command
    key) or `WebServerError` (port taken).
    """
    if not config.enabled:
        return None
    token = load_web_token(config)
    if token is None:
        logger.warning(
            "No staff token (web.token_file or credential 'web_token'): staff pages are closed"
        )
    store = open_store(config, device)
    hub = EventHub(survey_window_s=config.survey_window_s, store=store[0] if store else None)
    state = actions.state()
    hub.prime(state.consent, state.mode)
    publisher.add_listener(hub.listener)
    link = None
    if store is not None and device is not None:
        link = StoreLink(device[0], device[1], store[0].filters, hub, store[1])
    app = create_app(actions, hub, config, token=token, survey=survey, store=link)
    server = WebServer(app, hub, config, store=link)
    server.start()
    return server


def open_store(
    config: WebConfig, device: tuple[EdgeConfig, Secrets] | None
) -> tuple[StoreView, CommandSigner | None] | None:
    """The store view and the signer for remote acks, when `web.store_view` can work."""
    if not config.store_view:
        return None
    if device is None or device[0].mqtt.host is None:
        logger.warning("web.store_view is on but no broker is configured: this device only")
        return None
    edge = device[0]
    key = load_site_command_key(config)
    if key is None:
        logger.info(
            "No site command key (web.site_command_key_file or credential "
            "'site_command_key'): other devices' alerts are acknowledged on their own tablets"
        )
    topics = Topics(edge.mqtt.topic_prefix, edge.site_id, edge.device_id)
    return StoreView(topics, can_ack=key is not None), CommandSigner(key) if key else None
