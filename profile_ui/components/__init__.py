"""Reusable UI pieces: the page shell, empty states."""
