"""Scoring: the events stream consumer. Resolves every event to a profile (identity, traits, attribution)."""
