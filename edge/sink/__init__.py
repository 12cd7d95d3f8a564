"""The CX backend's reference consumer: MQTT shared subscription -> validated rows in PostgreSQL."""
