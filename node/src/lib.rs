//! Testigo operator and witness node: the sequencer, the embedded store, the HTTP API and libp2p
//! replication around the `testigo-ledger` protocol crate (DESIGN §7). This crate does the I/O;
//! every rule lives in the ledger.

pub mod storage;
