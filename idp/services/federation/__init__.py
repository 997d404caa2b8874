"""Signing in through upstream providers: which user an upstream identity is, and its links."""
