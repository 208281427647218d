"""Benchmarks and the SQL oracle: ``python -m bench`` (``make bench``) runs them all; see docs/bench.md."""
