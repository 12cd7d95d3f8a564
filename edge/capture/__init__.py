"""Capture sources: microphone, camera, and recordings that replay through the same path."""
