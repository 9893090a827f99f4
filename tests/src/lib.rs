//! # testigo-tests
//!
//! The end-to-end harness (STYLE 18): [`cluster`] starts real nodes in-process on loopback, each
//! on its own temporary data directory and ephemeral port; they are reached through
//! `testigo-client`, the way any outside program would, with [`probe`]'s helpers for tests that
//! check exact answers; [`fixtures`] builds seeded keys and signed entries; [`wallet`] runs the
//! real wallet in-process and [`lying_node`] stands between it and a node to make the node lie;
//! [`proxy`] relays a link that a test can cut; [`browser`] drives a headless Chromium for the
//! pages the tools write or serve. The tests
//! themselves are the `mod`s of `tests/e2e.rs`, one binary.

pub mod browser;
pub mod cluster;
pub mod fixtures;
pub mod lying_node;
pub mod probe;
pub mod proxy;
pub mod wallet;
