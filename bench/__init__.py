"""Benchmarks: `make bench` runs every bench module and prints results beside their floors."""
