//! End-to-end scenario tests live in `tests/`; this library is empty.
