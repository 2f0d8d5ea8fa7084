"""Machinery every stage shares, whichever package it lives in (streams/, alerts/).

The Faust app, dead letters, the per-message failure policy, the progress
guard against messages Faust skipped, retry, and tables that place their
entries by key.  Both stage packages import from here and neither imports
the other's internals.
"""
