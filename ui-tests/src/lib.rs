//! Support crate for the ui-tests; the cases live in `pass/` and `fail/`.
