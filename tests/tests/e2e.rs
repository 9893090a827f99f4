//! End-to-end tests: real nodes in-process on loopback (see `testigo_tests::cluster`), driven over
//! HTTP the way wallets, accessors and auditors drive them. One binary; each file is a module.

mod auth;
mod flow;
mod operator;
mod proofs;
mod rejections;
mod restart;
mod submission;
