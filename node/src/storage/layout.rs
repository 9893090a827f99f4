//! The on-disk layout shared by both engines: table names, key and value encodings.
//!
//! Both engines store the same bytes under the same keys (redb: one table per [`Table`]; sled:
//! one tree per [`Table`]), so a dump of either reads the same. Integers in keys are big-endian,
//! so byte order is numeric order and ranges are plain key ranges.

use testigo_ledger::hash::HASH_LEN;
use testigo_ledger::merkle::NodeId;
use testigo_ledger::state::GrantList;
use testigo_ledger::{Hash, PublicKey};

use super::StorageError;

/// Version of this layout, stored under [`META_FORMAT`]. Bump it with every incompatible
/// change, so an old binary refuses a newer directory instead of misreading it.
pub(crate) const FORMAT_VERSION: u32 = 4;

/// Hashes per tile (C2SP tlog-tiles width).
pub(crate) const TILE_WIDTH: u64 = 256;

/// A table (redb) or tree (sled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Table {
    /// Metadata: `META_*` keys.
    Meta,
    /// `index (u64)` → leaf bytes.
    Leaves,
    /// `level (u8) ‖ tile index (u64)` → up to 256 concatenated 32-byte hashes.
    Tiles,
    /// `account (32) ‖ history position (u64)` → the leaf indexes (u64 each) of the account's
    /// history entries from that position on, as one chunk per checkpoint that touched it.
    AccountLeaves,
    /// `signer (32) ‖ first nonce (u64)` → `(nonce (u64) ‖ leaf index (u64))` pairs, ascending:
    /// the signer's nonces of one checkpoint, as one chunk.
    Nonces,
    /// `map key (32)` → `account (32) ‖ account record bytes`, as of the latest checkpoint's
    /// `StateRoot` (map version [`META_RECORDS_VERSION`]). Keyed by the account's state-map key
    /// (`account_map_key`), so one of the map's buckets is one range of this table.
    Records,
    /// `grant index (u64)` → consent bytes, as of the latest checkpoint's `StateRoot`.
    Consents,
    /// `claim index (u64)` → claim bytes, as of the latest checkpoint's `StateRoot`.
    Claims,
    /// map node key (opaque) → encoded node (`MapNodeStore`; see `map_store`).
    MapNodes,
    /// `key hash (32) ‖ version (u64)` → `0x00` (deleted) or `0x01 ‖ value`.
    MapValues,
    /// `since (u64) ‖ node key` → empty: nodes that versions from `since` on no longer use.
    MapStale,
    /// `version (u64) ‖ key hash (32)` → empty: values written at `version`, for pruning.
    MapWritten,
    /// `size (u64)` → signed checkpoint note.
    Checkpoints,
    /// `size (u64) ‖ witness name` → cosignature line.
    Cosignatures,
    /// `grant list ‖ position (u64)` → grant index (u64), and `grant list ‖ u64::MAX` → the
    /// list's length ([`grant_key`]): each party's consents in index order, as of the latest
    /// checkpoint's `StateRoot`.
    Grants,
}

impl Table {
    pub(crate) const ALL: [Table; 15] = [
        Table::Meta,
        Table::Leaves,
        Table::Tiles,
        Table::AccountLeaves,
        Table::Nonces,
        Table::Records,
        Table::Consents,
        Table::Claims,
        Table::MapNodes,
        Table::MapValues,
        Table::MapStale,
        Table::MapWritten,
        Table::Checkpoints,
        Table::Cosignatures,
        Table::Grants,
    ];

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Leaves => "leaves",
            Table::Tiles => "tiles",
            Table::AccountLeaves => "account_leaves",
            Table::Nonces => "nonces",
            Table::Records => "records",
            Table::Consents => "consents",
            Table::Claims => "claims",
            Table::MapNodes => "map_nodes",
            Table::MapValues => "map_values",
            Table::MapStale => "map_stale",
            Table::MapWritten => "map_written",
            Table::Checkpoints => "checkpoints",
            Table::Cosignatures => "cosignatures",
            Table::Grants => "grants",
        }
    }

    /// Position in [`Table::ALL`], for engines that keep one handle per table.
    pub(crate) const fn position(self) -> usize {
        self as usize
    }
}

/// Meta key: [`FORMAT_VERSION`] as u32.
pub(crate) const META_FORMAT: &[u8] = b"format_version";
/// Meta key: the tree size (u64), written with the leaves that make it.
pub(crate) const META_TREE_SIZE: &[u8] = b"tree_size";
/// Meta key: the size (u64) of the latest checkpoint.
pub(crate) const META_LATEST_CHECKPOINT: &[u8] = b"latest_checkpoint";
/// Meta key: the log's parameters (the genesis body bytes or whatever the node records).
pub(crate) const META_LOG_PARAMS: &[u8] = b"log_params";
/// Meta key: the state header (`StateHeader::to_bytes`) as of the latest checkpoint's
/// `StateRoot`, written with it.
pub(crate) const META_STATE: &[u8] = b"state_header";
/// Meta key: the state-map version (u64) that [`Table::Records`] holds, written with it.
pub(crate) const META_RECORDS_VERSION: &[u8] = b"records_map_version";
/// Meta key: the latest map version written (u64); absent before the first.
pub(crate) const META_MAP_LATEST: &[u8] = b"map_latest_version";
/// Meta key: the map's oldest kept version (u64); absent means 0.
pub(crate) const META_MAP_OLDEST: &[u8] = b"map_oldest_kept";

/// A key and its value, as read from a table.
pub(crate) type Row = (Vec<u8>, Vec<u8>);

/// One change to the store, engine-neutral.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Put(Table, Vec<u8>, Vec<u8>),
    Delete(Table, Vec<u8>),
    /// Fault injection: the engine fails here, inside its transaction, before committing.
    #[cfg(test)]
    Fail,
}

pub(crate) fn u64_key(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

pub(crate) fn decode_u64(
    table: &'static str,
    key: &[u8],
    bytes: &[u8],
) -> Result<u64, StorageError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| {
        StorageError::corrupt(table, key, format!("{} bytes, not a u64", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(array))
}

/// `prefix ‖ n`.
pub(crate) fn prefixed_u64(prefix: &[u8], n: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&n.to_be_bytes());
    key
}

/// A tile: `level` and `index / 256` of the hashes it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TileId {
    pub(crate) level: u8,
    pub(crate) index: u64,
}

impl TileId {
    /// The tile holding `id`, and `id`'s position in it.
    pub(crate) fn of(id: NodeId) -> (Self, usize) {
        let tile = Self {
            level: id.level,
            index: id.index / TILE_WIDTH,
        };
        // Below 256, so the cast is exact.
        (tile, (id.index % TILE_WIDTH) as usize)
    }

    pub(crate) fn key(self) -> Vec<u8> {
        let mut key = Vec::with_capacity(9);
        key.push(self.level);
        key.extend_from_slice(&self.index.to_be_bytes());
        key
    }
}

pub(crate) fn encode_tile(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

pub(crate) fn decode_tile(key: &[u8], bytes: &[u8]) -> Result<Vec<Hash>, StorageError> {
    let count = bytes.len() / HASH_LEN;
    if !bytes.len().is_multiple_of(HASH_LEN) || count == 0 || count as u64 > TILE_WIDTH {
        return Err(StorageError::corrupt(
            Table::Tiles.name(),
            key,
            format!("{} bytes is not 1 to 256 hashes", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .map(|c| {
            let mut h = [0u8; HASH_LEN];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect())
}

/// Position of a [`Table::Grants`] list's length.
pub(crate) const GRANT_LIST_LEN: u64 = u64::MAX;

/// The [`Table::Grants`] key of `position` in `list` ([`GRANT_LIST_LEN`] for its length):
/// `0x00` for the any-accessor list, `0x01 ‖ accessor` and `0x02 ‖ subject`, then the position.
pub(crate) fn grant_key(list: &GrantList, position: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(41);
    match list {
        GrantList::ForAny => key.push(0x00),
        GrantList::ForAccessor(k) => {
            key.push(0x01);
            key.extend_from_slice(k.as_bytes());
        }
        GrantList::BySubject(k) => {
            key.push(0x02);
            key.extend_from_slice(k.as_bytes());
        }
    }
    key.extend_from_slice(&position.to_be_bytes());
    key
}

pub(crate) fn account_key(account: &PublicKey, n: u64) -> Vec<u8> {
    prefixed_u64(account.as_bytes(), n)
}

pub(crate) fn public_key(table: &'static str, key: &[u8]) -> Result<PublicKey, StorageError> {
    let bytes: [u8; 32] = key
        .get(..32)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| StorageError::corrupt(table, key, "key shorter than a public key"))?;
    Ok(PublicKey(bytes))
}
