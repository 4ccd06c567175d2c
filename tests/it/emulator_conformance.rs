//! Integration tests: emulator_conformance.
