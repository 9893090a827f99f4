//! An in-memory tree store, for tests, tools and small logs.

use super::{HashReader, HashWriter, Integration, MerkleError, NodeId, StoreError, integrate};
use crate::hash::{Hash, TreeHasher};

/// Tree hashes in memory, one vector per level.
///
/// Writes must extend each level contiguously, which is what applying [`Integration`]s in
/// order does; rewriting a stored hash with the same value is a no-op and with another value a
/// [`StoreError::Conflict`]. A failed write changes nothing.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    levels: Vec<Vec<Hash>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many leaf hashes are stored: the size of the largest tree this store can serve.
    pub fn leaf_count(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Integrates `leaf_hashes` after the stored leaves and stores the result.
    ///
    /// # Errors
    /// As [`integrate`]; a failed append stores nothing.
    pub fn append<H: TreeHasher>(
        &mut self,
        hasher: &H,
        leaf_hashes: &[Hash],
    ) -> Result<Integration, MerkleError> {
        let integration = integrate(hasher, &*self, self.leaf_count(), leaf_hashes)?;
        self.write_hashes(&integration.writes)
            .map_err(MerkleError::Store)?;
        Ok(integration)
    }

    fn get(&self, id: NodeId) -> Option<&Hash> {
        let index = usize::try_from(id.index).ok()?;
        self.levels.get(usize::from(id.level))?.get(index)
    }

    fn put(&mut self, id: NodeId, hash: Hash) -> Result<(), StoreError> {
        if let Some(stored) = self.get(id) {
            return if *stored == hash {
                Ok(())
            } else {
                Err(StoreError::Conflict(id))
            };
        }
        let level = usize::from(id.level);
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, Vec::new);
        }
        let nodes = &mut self.levels[level];
        if id.index != nodes.len() as u64 {
            return Err(StoreError::backend(format!(
                "memory store: {id} written while level {} holds {} hashes (writes must be contiguous)",
                id.level,
                nodes.len()
            )));
        }
        nodes.push(hash);
        Ok(())
    }
}

impl HashReader for MemoryStore {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        ids.iter()
            .map(|&id| self.get(id).copied().ok_or(StoreError::Missing(id)))
            .collect()
    }
}

impl HashWriter for MemoryStore {
    fn write_hashes(&mut self, writes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        // Writes only ever push, so undoing a failed batch is truncating back to these lengths.
        let before: Vec<usize> = self.levels.iter().map(Vec::len).collect();
        for &(id, hash) in writes {
            if let Err(error) = self.put(id, hash) {
                self.levels.truncate(before.len());
                for (nodes, &len) in self.levels.iter_mut().zip(&before) {
                    nodes.truncate(len);
                }
                return Err(error);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Blake3;

    #[test]
    fn memory_store_passes_the_conformance_suite() {
        crate::merkle::conformance::run_hash_store_conformance(MemoryStore::new);
    }

    #[test]
    fn conflicting_and_gapped_writes_are_refused_and_roll_back() {
        let mut store = MemoryStore::new();
        let leaves: Vec<Hash> = (0u8..3).map(|i| Blake3.hash_leaf(&[i])).collect();
        store.append(&Blake3, &leaves).unwrap();
        let snapshot = store.levels.clone();

        let conflict = [(NodeId::leaf(3), leaves[0]), (NodeId::leaf(1), leaves[0])];
        let err = store.write_hashes(&conflict).unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(id) if id == NodeId::leaf(1)),
            "{err}"
        );
        assert_eq!(store.levels, snapshot);

        let gap = [(NodeId::leaf(3), leaves[0]), (NodeId::new(5, 1), leaves[0])];
        let err = store.write_hashes(&gap).unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{err}");
        assert_eq!(store.levels, snapshot);
    }
}
