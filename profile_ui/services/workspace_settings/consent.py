"""Consent channels: fixed (no table), the same for every workspace; the statuses a
profile's consent on a channel can have."""

from __future__ import annotations

CONSENT_CHANNELS = ("email", "sms", "push", "phone")
CONSENT_CHANNEL_LABELS = {"email": "E-mail", "sms": "SMS", "push": "Push notification", "phone": "Phone call"}
CONSENT_STATUSES = ("granted", "denied", "unknown")


def consent_channels() -> list[tuple[str, str]]:
    """(channel, label) of the fixed consent channels, in display order."""
    return [(channel, CONSENT_CHANNEL_LABELS[channel]) for channel in CONSENT_CHANNELS]
