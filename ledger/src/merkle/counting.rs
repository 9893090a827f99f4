//! A reader wrapper that counts what is read, to check that operations stay O(log n).

use std::sync::atomic::{AtomicU64, Ordering};

use super::{HashReader, HashWriter, NodeId, StoreError};
use crate::hash::Hash;

/// Wraps a store and counts [`HashReader::read_hashes`] calls and the ids they asked for.
///
/// Writes pass through uncounted. The counters are atomic, so a shared reference can be used
/// from several threads.
#[derive(Debug, Default)]
pub struct CountingReader<R> {
    inner: R,
    calls: AtomicU64,
    ids: AtomicU64,
}

impl<R> CountingReader<R> {
    /// Wraps `inner` with both counters at zero.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            calls: AtomicU64::new(0),
            ids: AtomicU64::new(0),
        }
    }

    /// How many `read_hashes` calls were made since creation or the last [`reset`](Self::reset).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// How many ids those calls asked for in total.
    pub fn ids_read(&self) -> u64 {
        self.ids.load(Ordering::Relaxed)
    }

    /// Sets both counters back to zero.
    pub fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
        self.ids.store(0, Ordering::Relaxed);
    }

    /// The wrapped store.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// The wrapped store, mutably (for writing without counting).
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: HashReader> HashReader for CountingReader<R> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.ids.fetch_add(ids.len() as u64, Ordering::Relaxed);
        self.inner.read_hashes(ids)
    }
}

impl<W: HashWriter> HashWriter for CountingReader<W> {
    fn write_hashes(&mut self, writes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        self.inner.write_hashes(writes)
    }
}
