"""Test harness: backends, a live server on loopback, and factories for test data."""
