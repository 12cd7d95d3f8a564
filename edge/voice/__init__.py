"""Voice perception: speech detection (and, beside it, features and the emotion model)."""
