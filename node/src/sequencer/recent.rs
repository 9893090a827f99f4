//! The last few checkpoints with their map versions, so that an account can be proven against
//! a checkpoint a client just verified even if a newer one has landed since
//! (`GET /v1/accounts/{key}?size=N`). Each kept version holds the map nodes it shares with the
//! newest plus those it does not, so the window is short: a client asks right after it read the
//! checkpoint.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};

use super::CheckpointInfo;

/// How many checkpoints keep their map version readable.
pub const KEPT_MAP_VERSIONS: usize = 16;

/// The newest [`KEPT_MAP_VERSIONS`] checkpoints, oldest first.
#[derive(Debug, Default)]
pub struct RecentCheckpoints {
    kept: RwLock<VecDeque<Arc<CheckpointInfo>>>,
}

impl RecentCheckpoints {
    pub(crate) fn push(&self, checkpoint: Arc<CheckpointInfo>) {
        let mut kept = self
            .kept
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() == KEPT_MAP_VERSIONS {
            kept.pop_front();
        }
        kept.push_back(checkpoint);
    }

    /// The checkpoint of `size`, if it is one of the kept ones.
    pub fn get(&self, size: u64) -> Option<Arc<CheckpointInfo>> {
        let kept = self
            .kept
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.iter().rev().find(|c| c.size == size).cloned()
    }
}
