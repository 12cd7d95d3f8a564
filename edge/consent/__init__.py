"""Consent: the first stage after capture. Without an active consent nothing passes."""
