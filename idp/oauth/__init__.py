"""The Authlib adapter: server, grants, endpoints and client authentication. Authlib stops here."""
