"""Benchmarks: scripts that time something and report figures (to docs/benchmarks.md), not tests."""
