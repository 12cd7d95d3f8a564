"""Configuration: strict YAML model, environment overrides, file-based secrets."""

from edge.config.loader import ConfigError, load_config, print_config_error, resolve_state_dir
from edge.config.model import EdgeConfig
from edge.config.secrets import Secrets, load_secrets

__all__ = [
    "ConfigError",
    "EdgeConfig",
    "Secrets",
    "load_config",
    "load_secrets",
    "print_config_error",
    "resolve_state_dir",
]
