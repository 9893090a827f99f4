//! Pure verification functions for wallets, witnesses and auditors: no I/O, no panics on any input.
