"""OAuth clients: definitions, the per-process cache, redirect URIs, dynamic registration."""
