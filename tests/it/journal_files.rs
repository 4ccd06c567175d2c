//! Integration tests: journal_files.
