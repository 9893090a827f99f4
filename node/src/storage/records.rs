//! The account records: the state snapshot's records and, keyed by state-map key, the paged
//! state map's buckets (one bucket is one range of the table, read with the map version it is
//! as of).

use testigo_ledger::PublicKey;
use testigo_ledger::map::{
    BucketRows, BucketSource, MapKey, MapStoreError, Stored, account_map_key, bucket_bounds,
};

use super::layout::{self, Table};
use super::{StorageError, Store, next_prefix};

impl Store {
    /// An account's state record.
    ///
    /// # Errors
    /// Engine errors.
    pub fn record(&self, account: &PublicKey) -> Result<Option<Vec<u8>>, StorageError> {
        let key = account_map_key(account);
        let Some(value) = self.engine.get(Table::Records, &key)? else {
            return Ok(None);
        };
        let (owner, record) = split_record(&key, value)?;
        if owner != *account {
            return Err(StorageError::corrupt(
                Table::Records.name(),
                &key,
                format!("holds the record of {owner}, not of {account}"),
            ));
        }
        Ok(Some(record))
    }

    /// Up to `limit` account records in the order of their state-map keys, after the key `after`
    /// (from the first if `None`): for loading the state snapshot at startup, page by page, in
    /// the order the state map is built in.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for a malformed row.
    pub fn records(
        &self,
        after: Option<&MapKey>,
        limit: usize,
    ) -> Result<Vec<SavedRecord>, StorageError> {
        let start = match after {
            None => Vec::new(),
            Some(key) => match next_prefix(key) {
                Some(next) => next,
                None => return Ok(Vec::new()),
            },
        };
        let rows = self.engine.scan(Table::Records, &start, None, limit)?;
        rows.into_iter().map(record_row).collect()
    }

    /// The state-map version the saved records are as of, `None` before the first checkpoint.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for a malformed value.
    pub fn records_version(&self) -> Result<Option<u64>, StorageError> {
        self.meta_u64(layout::META_RECORDS_VERSION)
    }

    /// The records in `low..=high` (map keys) and the map version they are as of, read from one
    /// snapshot.
    fn records_in(
        &self,
        low: &MapKey,
        high: &MapKey,
    ) -> Result<(Option<u64>, Vec<SavedRecord>), StorageError> {
        let end = next_prefix(high);
        let meta = layout::META_RECORDS_VERSION;
        let (version, rows) =
            self.engine
                .scan_with_meta(Table::Records, low, end.as_deref(), usize::MAX, meta)?;
        let version = version
            .map(|bytes| layout::decode_u64("meta", meta, &bytes))
            .transpose()?;
        let rows = rows.into_iter().map(record_row).collect::<Result<_, _>>()?;
        Ok((version, rows))
    }
}

/// A saved account record: its state-map key, its account and its bytes.
pub type SavedRecord = (MapKey, PublicKey, Vec<u8>);

/// A [`Table::Records`] value split into the account and its record.
fn split_record(key: &[u8], mut value: Vec<u8>) -> Result<(PublicKey, Vec<u8>), StorageError> {
    let owner = layout::public_key(Table::Records.name(), &value).map_err(|_| {
        StorageError::corrupt(Table::Records.name(), key, "value shorter than a key")
    })?;
    Ok((owner, value.split_off(32)))
}

fn record_row((key, value): layout::Row) -> Result<SavedRecord, StorageError> {
    let map_key: MapKey = key
        .as_slice()
        .try_into()
        .map_err(|_| StorageError::corrupt(Table::Records.name(), &key, "not a 32-byte map key"))?;
    let (owner, record) = split_record(&key, value)?;
    if account_map_key(&owner) != map_key {
        return Err(StorageError::corrupt(
            Table::Records.name(),
            &key,
            format!("holds the record of {owner}, whose map key is another"),
        ));
    }
    Ok((map_key, owner, record))
}

/// The account records are the paged state map's buckets: one bucket is one range of the
/// table, read with the map version it is as of.
impl BucketSource for Store {
    fn bucket(&self, prefix: &MapKey, bits: usize) -> Result<Stored<BucketRows>, MapStoreError> {
        let (low, high) = bucket_bounds(prefix, bits);
        let (version, rows) = self.records_in(&low, &high).map_err(map_store_error)?;
        Ok(Stored {
            version,
            data: rows
                .into_iter()
                .map(|(key, _, record)| (key, record))
                .collect(),
        })
    }

    fn version(&self) -> Result<Option<u64>, MapStoreError> {
        self.records_version().map_err(map_store_error)
    }

    fn value(&self, key: &MapKey) -> Result<Stored<Option<Vec<u8>>>, MapStoreError> {
        let (version, mut rows) = self.records_in(key, key).map_err(map_store_error)?;
        Ok(Stored {
            version,
            data: rows.pop().map(|(_, _, record)| record),
        })
    }
}

fn map_store_error(e: StorageError) -> MapStoreError {
    match e {
        StorageError::Corrupt { .. } => MapStoreError::Corrupt(e.to_string()),
        other => MapStoreError::Engine(Box::new(other)),
    }
}
