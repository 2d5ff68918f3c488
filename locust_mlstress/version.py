"""The package's version, on its own so that any layer can name it (the User-Agent of our
requests, the run manifest) without importing the package facade and what it exports."""

__version__ = "0.1.0"  # as pyproject.toml's [project] version
