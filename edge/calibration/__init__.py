"""Per-site calibration: measure the kiosk's room, light and typical faces once."""
