"""Run the Leadstream SAM stack on a laptop: embedded moto, the template's routes and triggers, no Docker."""
