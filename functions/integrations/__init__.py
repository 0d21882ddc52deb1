"""Integrations: the business event catalog, signed webhooks, and external identities."""
