"""Signing in on the hosted pages: login sessions, authorization transactions and codes,
consent, logout."""
