"""Amaranth descriptions of the OpenLPU units."""
