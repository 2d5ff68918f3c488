"""Outputs of a run: the console table and the JSON and CSV files."""
