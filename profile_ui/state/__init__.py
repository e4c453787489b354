"""Shared Reflex state (AppState: session, signed-in user, notifications)."""
