"""API clients: the company's other systems, their scoped keys and their references."""
