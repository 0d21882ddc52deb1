"""The website side: forms, landing pages, gated assets, dynamic content, pop-ups, page A/B tests, the
snippet.
"""
