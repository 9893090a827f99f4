//! End-to-end tests, built as one binary (STYLE 18): every test file is a module here.
//!
//! The crash test lives in `node/tests/crash.rs`: it runs the `testigo-node` binary as a child
//! process, which Cargo builds for a test only inside the node crate.

mod hostile;
