"""Benchmarks: each ``bench_*.py`` module has ``main()`` and prints its figures."""
