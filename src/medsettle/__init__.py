"""medsettle: cross-province direct settlement of outpatient special-disease insurance."""

__version__ = "0.1.0"
