"""Load benchmark of the identity provider as production runs it: gunicorn per the Procfile."""
