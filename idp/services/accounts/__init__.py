"""People: users and their roles."""
