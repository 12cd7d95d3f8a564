"""Running as an appliance under systemd: readiness, watchdog, status."""
