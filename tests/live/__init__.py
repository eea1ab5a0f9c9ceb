"""Tests that run against moto (in-process or a moto server in this process), no AWS account."""
