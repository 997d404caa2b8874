"""Upstream identity providers: Google, GitHub and any OpenID provider (adapters)."""
