"""Audiences: segment membership kept per person from the profile stream, and the per-person timers."""
