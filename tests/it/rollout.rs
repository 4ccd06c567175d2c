//! Integration tests: rollout.
