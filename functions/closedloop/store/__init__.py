"""closedloop's data access: the only code of closedloop that talks to AWS."""
