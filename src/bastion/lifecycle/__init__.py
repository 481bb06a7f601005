"""Data lifecycle: migrations and seed data (retention and erasure come later)."""

from bastion.lifecycle.service import SeedResult, run_seeders

__all__ = ["SeedResult", "run_seeders"]
