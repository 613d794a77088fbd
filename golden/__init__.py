"""Bit-exact, cycle-exact numpy models: the specification the RTL is checked against."""
