"""Kiosk screen and staff tablet pages, served by the device (see docs/web.md)."""

from edge.web.app import create_app
from edge.web.config import WebConfig
from edge.web.hub import EventHub
from edge.web.server import WebServer, WebServerError
from edge.web.service import start_web
from edge.web.survey import LogSurveySink, SurveySink
from edge.web.token import load_web_token

__all__ = [
    "EventHub",
    "LogSurveySink",
    "SurveySink",
    "WebConfig",
    "WebServer",
    "WebServerError",
    "create_app",
    "load_web_token",
    "start_web",
]
