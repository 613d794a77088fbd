"""Benchmarks: figures come from these scripts, never from timed tests."""
