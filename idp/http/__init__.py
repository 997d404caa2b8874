"""Every route: protocol endpoints (oauth/), operations, and the error formats."""
