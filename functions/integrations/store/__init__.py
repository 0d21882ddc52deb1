"""integrations's data access: the only code of integrations that talks to AWS."""
