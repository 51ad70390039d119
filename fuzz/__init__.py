"""Fuzzing `por`'s parsers of untrusted documents (see fuzz/README.md and RELIABILITY.md)."""
