"""Runtime evidence: the rules' docs examples run as real apps (docs/runtime-evidence.md)."""
