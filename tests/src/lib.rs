//! # testigo-tests
//!
//! The end-to-end harness (STYLE 18): [`cluster`] starts real nodes in-process on loopback, each
//! on its own temporary data directory and ephemeral port; they are reached through
//! `testigo-client`, the way any outside program would, with [`probe`]'s helpers for tests that
//! check exact answers; [`fixtures`] builds seeded keys and signed entries; [`wallet`] runs the real wallet in-process
//! and [`proxy`] stands between it and a node to make the node lie. The tests
//! themselves are the `mod`s of `tests/e2e.rs`, one binary.

pub mod cluster;
pub mod fixtures;
pub mod lying_node;
pub mod probe;
pub mod proxy;
pub mod wallet;
