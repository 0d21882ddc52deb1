"""Commerce side of the CRM: products and price book, quotes, orders, contracts and renewals, tickets,
attachments and the owners' daily digest.

The modules here are plain Python on pydantic models (no AWS); storage lives in `sales.commerce.store`,
HTTP in `sales.commerce.routes`, scheduled work in `sales.commerce.jobs`. docs/commerce.md explains the rules.
"""
