"""Benchmarks: scripts that print figures. They never assert timings, only correctness."""
