"""Use cases: each runs in one unit of work and either commits whole or changes nothing."""
