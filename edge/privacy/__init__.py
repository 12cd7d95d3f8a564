"""Privacy: the only place where outgoing records are built."""
