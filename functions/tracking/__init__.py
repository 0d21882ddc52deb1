"""Tracking: Segment/RudderStack HTTP API, pixel and forms; stores events in the events table."""
