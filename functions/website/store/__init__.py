"""website's data access: the only code of website that talks to AWS."""
