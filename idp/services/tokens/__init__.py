"""Tokens: access tokens (RFC 9068), refresh and ID tokens, revocations, claims, signing keys."""
