"""The MQTT contract: topics, payload models, schemas."""
