"""Benchmarks of the whole system on this machine: ``python -m bench`` (``make bench``) runs them all and
writes docs/benchmarks.md; ``python -m bench --quick`` is a smoke run in a minute or two."""
