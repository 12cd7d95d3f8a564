"""Remote commands: authentication and dispatch."""
