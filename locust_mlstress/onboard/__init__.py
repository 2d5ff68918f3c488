"""`mlstress init`: a first profile for your own model from a data file and, optionally, its URL.

`data` reads the file as the profile loader will, `infer` turns it into features, an output and
drift variants, `probe` finds the wire format a live endpoint accepts, `write` renders the TOML,
and `command` runs them in an order that writes nothing unless everything worked.
"""

from locust_mlstress.onboard.command import add_arguments, main
from locust_mlstress.onboard.errors import InitError

__all__ = ["InitError", "add_arguments", "main"]
