"""Marketing email: templates API, rendering, the sender and SES event handling (docs/email.md)."""
