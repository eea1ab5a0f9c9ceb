"""Maintenance scripts of the repository (not part of the ``ecr_cleanup`` package)."""
