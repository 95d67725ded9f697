"""The national hospital interface: envelope, signature, idempotency, transactions."""
