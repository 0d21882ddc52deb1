"""The sales CRM HTTP API and its scheduled jobs."""
