"""Checks that keep the README true to the code: generated tables, policy reference, make targets."""
