"""Journeys: the engine that walks each person through a journey's steps, its triggers, and its API."""
