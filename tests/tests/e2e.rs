//! End-to-end tests: real nodes in-process on loopback (see `testigo_tests::cluster`), driven over
//! HTTP the way wallets, accessors and auditors drive them. One binary; each file is a module.
//!
//! The crash test lives in `node/tests/crash.rs`: it runs the `testigo-node` binary as a child
//! process, which Cargo builds for a test only inside the node crate.

mod audit;
mod auth;
mod checkpoints;
mod corruption;
mod dashboard;
mod equivocation;
mod flow;
mod hostile;
mod limits;
mod loadgen;
mod monitor;
mod operator;
mod proofs;
mod readers_under_flood;
mod refusals;
mod rejections;
mod report;
mod restart;
mod restore;
mod simulate;
mod submission;
mod trust;
mod wallet;
mod wallet_lies;
mod wallet_tools;
mod witness_ops;
mod witnessing;
