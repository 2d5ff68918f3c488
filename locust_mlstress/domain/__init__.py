"""The values every layer shares: a profile's schema, gates, load plans and request outcomes.

Frozen dataclasses and constants only; this package imports nothing else of locust_mlstress,
so a codec, a metric or a report can use these types without loading anything.
"""
