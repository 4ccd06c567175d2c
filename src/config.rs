//! Turning the raw command line and environment into validated settings (URLs, quotas, sign-in
//! mode). Nothing past this module sees raw arguments.
