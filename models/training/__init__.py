"""Reproducible training pipelines for the on-device moodsense models."""
