"""Template tags and filters of the platform layer, usable by every app."""
