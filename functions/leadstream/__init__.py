"""Code every Leadstream function shares: settings, errors, key design, event shapes, storage access."""
