//! Calls that verify what they return against signed data (DESIGN §8), with
//! `testigo_ledger::verify`: a failure is a [`ClientError::Integrity`] carrying what was received.

use testigo_ledger::Hash;
use testigo_ledger::checkpoint::{Checkpoint, Cosigner};
use testigo_ledger::state::LogParams;
use testigo_ledger::verify::{
    HistoryCursor, VerifiedAccount, VerifiedEntry, verify_account, verify_consistency,
    verify_genesis, verify_log_checkpoint,
};

use crate::{Client, ClientError, Integrity};

/// A checkpoint note that passed [`Client::verified_checkpoint`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The note exactly as received.
    pub note: String,
    /// Its size and root.
    pub checkpoint: Checkpoint,
    /// The witnesses whose cosignatures counted.
    pub cosigners: Vec<Cosigner>,
}

impl Client {
    /// The log's parameters, from its genesis leaf as `GET /v1/log` serves it, checked with the
    /// rules and against `pinned` (the genesis leaf hash the caller trusts) when given. Without
    /// a pin this trusts the node on first use: the caller should show the hash to compare.
    ///
    /// # Errors
    /// [`ClientError::Protocol`] if the leaf is not a valid genesis or does not match the rest
    /// of the answer, or is not the pinned one.
    pub async fn verified_log(&self, pinned: Option<&Hash>) -> Result<LogParams, ClientError> {
        let info = self.log().await?;
        let bad = |message: String| ClientError::Protocol {
            url: format!("{}/v1/log", self.base()),
            status: 200,
            message,
        };
        let params =
            verify_genesis(&info.genesis_leaf.0, pinned).map_err(|e| bad(e.to_string()))?;
        if testigo_ledger::api::LogInfo::new(&params, info.genesis_leaf.0.clone()) != info {
            return Err(bad("the parameters differ from the genesis leaf's".into()));
        }
        Ok(params)
    }

    /// The latest checkpoint, verified: signed by the log key and cosigned by the quorum of
    /// `Genesis` (the log key alone when the log names no witnesses).
    ///
    /// # Errors
    /// [`Integrity::Checkpoint`] with the note.
    pub async fn verified_checkpoint(
        &self,
        log: &LogParams,
    ) -> Result<VerifiedCheckpoint, ClientError> {
        let note = self.checkpoint().await?;
        let (checkpoint, cosigners) =
            verify_log_checkpoint(note.as_bytes(), log).map_err(|error| Integrity::Checkpoint {
                note: note.clone(),
                error,
            })?;
        Ok(VerifiedCheckpoint {
            note,
            checkpoint,
            cosigners,
        })
    }

    /// Proves `new` consistent with `trusted` (an append-only extension of it) and returns the
    /// RFC 6962 proof checked (empty for equal sizes and from the empty tree), for a caller that
    /// keeps it to re-check offline.
    ///
    /// # Errors
    /// [`Integrity::Consistency`] with both notes and the proof.
    pub async fn prove_consistent(
        &self,
        trusted: &VerifiedCheckpoint,
        new: &VerifiedCheckpoint,
    ) -> Result<Vec<Hash>, ClientError> {
        let (from, to) = (trusted.checkpoint.size(), new.checkpoint.size());
        let inconsistent = |proof: Vec<Hash>, error| Integrity::Consistency {
            trusted_size: from,
            new_size: to,
            trusted: trusted.note.clone(),
            new: new.note.clone(),
            proof,
            error,
        };
        if from == 0 {
            // Every tree extends the empty one; RFC 9162 has no proof from it.
            return Ok(Vec::new());
        }
        let path = if from == to {
            Vec::new()
        } else {
            self.consistency(from, to).await?.path
        };
        verify_consistency(
            &testigo_ledger::Blake3,
            from,
            to,
            trusted.checkpoint.root(),
            new.checkpoint.root(),
            &path,
        )
        .map_err(|error| inconsistent(path.clone(), error))?;
        Ok(path)
    }

    /// `key`'s record at the latest checkpoint, verified through the whole chain: checkpoint
    /// (log key and quorum) → `StateRoot` leaf included as its last leaf → map proof → record.
    ///
    /// # Errors
    /// [`Integrity::Checkpoint`] or [`Integrity::Account`] with the evidence.
    pub async fn verified_account(
        &self,
        log: &LogParams,
        key: &testigo_ledger::PublicKey,
    ) -> Result<VerifiedAccount, ClientError> {
        let checkpoint = self.verified_checkpoint(log).await?;
        self.verified_account_at(log, &checkpoint, key).await
    }

    /// [`Client::verified_account`] against a checkpoint already verified.
    ///
    /// # Errors
    /// [`Integrity::Account`] with the note and the answer.
    pub async fn verified_account_at(
        &self,
        log: &LogParams,
        checkpoint: &VerifiedCheckpoint,
        key: &testigo_ledger::PublicKey,
    ) -> Result<VerifiedAccount, ClientError> {
        let answer = self
            .account(key, Some(checkpoint.checkpoint.size()))
            .await?;
        verify_account(&checkpoint.note, log, key, &answer)
            .map_err(|failure| Integrity::Account(failure).into())
    }

    /// The account's whole history as its verified record commits it: every page verified and
    /// chained, the last one ending exactly at the record's length and head.
    ///
    /// # Errors
    /// [`Integrity::History`] with the failing page.
    pub async fn verified_history(
        &self,
        account: &VerifiedAccount,
    ) -> Result<Vec<VerifiedEntry>, ClientError> {
        let mut cursor = HistoryCursor::new(account);
        let mut entries = Vec::new();
        let size = Some(account.checkpoint.size());
        while !cursor.is_complete() {
            let page = self.history(&account.key, cursor.position(), size).await?;
            entries.extend(
                cursor
                    .push_page(&page)
                    .map_err(|failure| ClientError::from(Integrity::History(failure)))?,
            );
        }
        Ok(entries)
    }
}
