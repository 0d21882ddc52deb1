"""Customer data in and out: imports, exports, privacy (access, erasure), consent and the preference
center.
"""
