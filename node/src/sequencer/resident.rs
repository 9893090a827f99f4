//! Loading what the sequencer's partial state lacks (`testigo_ledger::state`'s residency docs):
//! before a leaf is applied, every account, consent, claim and grant-list length it reads is
//! made resident, from the state map (records, as of the last `StateRoot`) and the store (the
//! rest, as of the last saved snapshot). After every checkpoint commit the state is trimmed back
//! to [`RESIDENT_BOUND`] clean entries of each kind, so the node's memory does not grow with its
//! accounts.

use std::sync::Arc;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, BodyError, Leaf};

use testigo_ledger::map::{BucketSource, SparseMap, StateMap as _, account_map_key};
use testigo_ledger::state::{
    AccountRecord, ClaimRecord, Consent, Engine, Loaded, Needs, Residency,
};

use crate::storage::{StorageError, Store};

/// Clean entries of each kind (accounts, consents, claims, grant lists) kept in memory between
/// checkpoints. A resident account costs some 300 bytes, a consent some 250: about 40 MiB in
/// all at this bound, whatever the number of accounts.
pub(crate) const RESIDENT_BOUND: usize = 65_536;

/// An empty state map, paged over the store's account records at the store's bucket depth.
pub(crate) fn paged_map(store: &Arc<Store>) -> SparseMap {
    SparseMap::paged(
        Arc::clone(store) as Arc<dyn BucketSource>,
        store.map_bucket_bits(),
    )
}

/// The bound as the ledger takes it.
pub(crate) fn residency() -> Residency {
    Residency::each(RESIDENT_BOUND)
}

/// Makes resident everything applying `leaf` reads. Changes nothing the rules see: it only
/// copies saved data into memory.
///
/// # Errors
/// [`StorageError`] if the store fails or holds a record, consent or claim that does not decode
/// or (for consents and claims) is not what the leaves that made it say.
pub(crate) fn make_resident(
    engine: &mut Engine<SparseMap>,
    store: &Store,
    leaf: &Leaf,
) -> Result<(), StorageError> {
    // A revocation or settlement names a consent or claim, which names one more account.
    for _ in 0..3 {
        let needs = engine.missing(leaf);
        if needs.is_empty() {
            return Ok(());
        }
        let loaded = load(engine, store, &needs)?;
        engine.admit(loaded);
    }
    let needs = engine.missing(leaf);
    if needs.is_empty() {
        Ok(())
    } else {
        Err(StorageError::corrupt(
            "state",
            &[],
            format!(
                "a leaf signed by {} still lacks {needs} after three loads",
                leaf.signer
            ),
        ))
    }
}

fn load(engine: &Engine<SparseMap>, store: &Store, needs: &Needs) -> Result<Loaded, StorageError> {
    let version = engine
        .map()
        .latest_version()
        .map_err(|e| StorageError::corrupt("state map", &[], e.to_string()))?;
    let mut loaded = Loaded::default();
    for key in &needs.accounts {
        let record = match version {
            None => None,
            Some(version) => engine
                .map()
                .get(&account_map_key(key), version)
                .map_err(|e| StorageError::corrupt("state map", key.as_bytes(), e.to_string()))?
                .map(|bytes| decode(&bytes, "records", key.as_bytes(), AccountRecord::from_bytes))
                .transpose()?,
        };
        loaded.accounts.push((*key, record));
    }
    for index in &needs.consents {
        let consent = saved(
            store,
            *index,
            Store::consent,
            "consents",
            Consent::from_bytes,
        )?;
        if let Some(consent) = &consent {
            check_consent(store, *index, consent)?;
        }
        loaded.consents.push((*index, consent));
    }
    for index in &needs.claims {
        let claim = saved(
            store,
            *index,
            Store::claim,
            "claims",
            ClaimRecord::from_bytes,
        )?;
        if let Some(claim) = &claim {
            check_claim(store, *index, claim)?;
        }
        loaded.claims.push((*index, claim));
    }
    for list in &needs.grant_lists {
        loaded
            .grant_lists
            .push((*list, store.grant_list_len(list)?));
    }
    Ok(loaded)
}

/// `Store::consent` or `Store::claim`.
type SavedRow = fn(&Store, u64) -> Result<Option<Vec<u8>>, StorageError>;

/// The saved consent or claim at `index`, decoded.
fn saved<T>(
    store: &Store,
    index: u64,
    read: SavedRow,
    table: &'static str,
    from_bytes: fn(&[u8]) -> Result<T, BodyError>,
) -> Result<Option<T>, StorageError> {
    read(store, index)?
        .map(|bytes| decode(&bytes, table, &index.to_be_bytes(), from_bytes))
        .transpose()
}

fn decode<T>(
    bytes: &[u8],
    table: &'static str,
    key: &[u8],
    from_bytes: fn(&[u8]) -> Result<T, BodyError>,
) -> Result<T, StorageError> {
    from_bytes(bytes).map_err(|e| StorageError::corrupt(table, key, e.to_string()))
}

/// The stored leaf at `index`: its signer and body.
fn logged(
    store: &Store,
    index: u64,
    table: &'static str,
) -> Result<(PublicKey, Body), StorageError> {
    let key = index.to_be_bytes();
    let bytes = store.leaf(index)?.ok_or_else(|| {
        StorageError::corrupt(table, &key, format!("names leaf {index}, not stored"))
    })?;
    let leaf = Leaf::from_bytes(&bytes)
        .map_err(|e| StorageError::corrupt(table, &key, format!("leaf {index}: {e}")))?;
    let body = leaf
        .decode_body()
        .map_err(|e| StorageError::corrupt(table, &key, format!("leaf {index}: {e}")))?;
    Ok((leaf.signer, body))
}

/// A saved consent is what its `GrantConsent` leaf (and its revocation) made, so a damaged
/// snapshot cannot grant, revoke or re-price what the log did not.
pub(crate) fn check_consent(store: &Store, index: u64, c: &Consent) -> Result<(), StorageError> {
    let key = index.to_be_bytes();
    let differs = || StorageError::corrupt("consents", &key, "not what the log granted");
    let (signer, body) = logged(store, index, "consents")?;
    let Body::GrantConsent(g) = body else {
        return Err(differs());
    };
    let granted = Consent {
        subject: signer,
        accessor: g.accessor,
        categories: g.categories,
        purposes: g.purposes,
        price: g.price,
        valid_from: g.valid_from,
        valid_until: g.valid_until,
        revoked_at: c.revoked_at,
    };
    if granted != *c {
        return Err(differs());
    }
    if let Some(at) = c.revoked_at {
        let (signer, body) = logged(store, at, "consents")?;
        if !matches!(body, Body::RevokeConsent(r) if r.consent == index) || signer != c.subject {
            return Err(StorageError::corrupt(
                "consents",
                &key,
                format!("revoked at leaf {at}, which does not revoke it"),
            ));
        }
    }
    Ok(())
}

/// A saved claim is what its `Claim` leaf (and its settlement) made.
pub(crate) fn check_claim(store: &Store, index: u64, c: &ClaimRecord) -> Result<(), StorageError> {
    let key = index.to_be_bytes();
    let differs = || StorageError::corrupt("claims", &key, "not what the log claimed");
    let (signer, body) = logged(store, index, "claims")?;
    let Body::Claim(claim) = body else {
        return Err(differs());
    };
    if signer != c.subject || claim.amount != c.amount || claim.payout_ref != c.payout_ref {
        return Err(differs());
    }
    if let Some(at) = c.settled_at {
        let (_, body) = logged(store, at, "claims")?;
        if !matches!(body, Body::PayoutSettled(p) if p.claim == index) {
            return Err(StorageError::corrupt(
                "claims",
                &key,
                format!("settled at leaf {at}, which does not settle it"),
            ));
        }
    }
    Ok(())
}
