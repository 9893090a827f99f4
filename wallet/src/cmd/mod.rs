//! One module per group of commands.

pub(crate) mod batch;
pub(crate) mod buyer;
pub(crate) mod consent;
pub(crate) mod export;
pub(crate) mod keys;
pub(crate) mod receipt;
pub(crate) mod view;
pub(crate) mod watch;
