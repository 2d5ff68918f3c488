"""Servers this package runs for you: the reference model server and the fault proxy.

Neither is the system under test (that is the profile's `[target]`, at `--host`); they are
what the quickstart and the tests stand a run against, each in its own child process.
"""
