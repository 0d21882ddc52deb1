"""customerdata's data access: the only code of customerdata that talks to AWS."""
