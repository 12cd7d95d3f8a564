"""TFLite runtime and the verified model registry."""
