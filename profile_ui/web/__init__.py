"""The ASGI pieces in front of Reflex, and how its web server runs (production shape)."""
