//! # testigo-tests
//!
//! The end-to-end harness (STYLE 18): [`cluster`] starts real nodes in-process on loopback, each
//! on its own temporary data directory and ephemeral port; [`client`] speaks HTTP to them the way
//! any outside client would; [`fixtures`] builds seeded keys and signed entries. The tests
//! themselves are the `mod`s of `tests/e2e.rs`, one binary.

pub mod client;
pub mod cluster;
pub mod fixtures;
