"""The closed loop: CRM outcomes flow back to the person (stage, revenue), two-way contact sync,
account engagement.
"""
