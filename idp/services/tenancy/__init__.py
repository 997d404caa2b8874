"""Tenants: their settings, upstream providers and usage."""
