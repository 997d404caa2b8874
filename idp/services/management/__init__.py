"""The management API's own concerns: API keys, principals, team members, idempotency."""
