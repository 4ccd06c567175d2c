//! Integration tests: input_cli.
