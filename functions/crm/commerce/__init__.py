"""Commerce side of the CRM: products and price book, quotes, orders, contracts and renewals, tickets,
attachments and the owners' daily digest.

The modules here are plain Python on pydantic models (no AWS); storage lives in `crm.commerce.store`,
HTTP in `crm.resources`, and the daily jobs' record access in `crm.renewal_records` and
`crm.digest_records` (they use the resources' record types, so they sit above both). docs/commerce.md
explains the rules.
"""
