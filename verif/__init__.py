"""Simulator plumbing and cocotb testbenches."""
