"""Delivery to the broker: outbox, durable publisher, paho link."""
