"""Shared pytest configuration: fixtures live in tests/support so the demo can reuse them."""
