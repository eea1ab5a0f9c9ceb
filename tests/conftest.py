"""Shared pytest configuration: fixtures live in tests/support so the demo can reuse them."""

pytest_plugins = ["tests.support.aws"]
