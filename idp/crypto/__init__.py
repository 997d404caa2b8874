"""Keys, JWTs, passwords and secrets."""
