"""HTTP/1.1 for the model requests: message framing, a lean keep-alive client, bounded bodies.

Knows bytes, heads and deadlines, and nothing of models: no module here imports the rest of
locust_mlstress (an import-linter contract in pyproject.toml keeps it so).
"""
