"""moodsense-edge: consent-first, on-device emotion sensing for kiosks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("moodsense-edge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
