"""Data access: the only code that talks to DynamoDB. One module per concern, over one helper module."""
