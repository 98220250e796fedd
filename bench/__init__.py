"""Benchmarks run by hand, never in the test suite: ``python -m bench.run`` prints one table.

Each section runs in its own process (``python -m bench.<section> --json``) so memory peaks
and event loops do not leak from one into the next. See RESULTS.md for a recorded run.
"""
