"""The `metrics` config section: the Prometheus endpoint, on loopback only."""

import ipaddress

from pydantic import Field, field_validator

from edge.config.base import StrictModel


class MetricsConfig(StrictModel):
    """`/metrics` for a local Prometheus agent (node_exporter style). Loopback only: the
    numbers describe the kiosk, and the store LAN has no business scraping it directly."""

    enabled: bool = Field(default=True, description="Serve /metrics at all.")
    host: str = Field(
        default="127.0.0.1",
        description="Loopback address to bind (127.0.0.0/8 or ::1); anything else is refused.",
    )
    port: int = Field(default=9464, ge=0, le=65535, description="TCP port (0: any free port).")

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, host: str) -> str:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"metrics.host must be a loopback address, not {host!r}")
        return host
