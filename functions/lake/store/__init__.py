"""lake's data access: the only code of lake that talks to AWS."""
