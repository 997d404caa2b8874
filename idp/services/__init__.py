"""Use cases: tenants, clients, users, signing keys, tokens. They take plain values."""
