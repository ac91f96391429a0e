"""Benchmarks for mlkanban; see bench/README.md."""
