//! Listings that span many answers, as streams: every page is checked to continue exactly where
//! the last one ended, so a node cannot skip or repeat items between pages unnoticed.

use futures::stream::{self, Stream, TryStreamExt as _};
use testigo_ledger::PublicKey;
use testigo_ledger::api::{CheckpointEntry, HistoryEntry, IndexedLeaf};

use crate::{Client, ClientError, Integrity};

fn paging(what: String) -> ClientError {
    Integrity::Paging { what }.into()
}

impl Client {
    /// Every leaf in `start..end`, in order, fetched page by page (signed read: operator,
    /// witness or regulator).
    pub fn entries_stream(
        &self,
        start: u64,
        end: u64,
    ) -> impl Stream<Item = Result<IndexedLeaf, ClientError>> + Send + '_ {
        stream::try_unfold(start, move |next| async move {
            if next >= end {
                return Ok(None);
            }
            let page = self.entries(next, end).await?;
            if page.entries.is_empty() {
                return Err(paging(format!(
                    "GET /v1/entries?start={next}: an empty page before {end}"
                )));
            }
            let mut expected = next;
            for entry in &page.entries {
                if entry.index != expected || expected >= end {
                    return Err(paging(format!(
                        "GET /v1/entries?start={next}: index {} where {expected} was due",
                        entry.index
                    )));
                }
                expected += 1;
            }
            Ok(Some((
                stream::iter(page.entries.into_iter().map(Ok)),
                expected,
            )))
        })
        .try_flatten()
    }

    /// Every published checkpoint with size at least `from`, ascending, page by page.
    pub fn checkpoints_from(
        &self,
        from: u64,
    ) -> impl Stream<Item = Result<CheckpointEntry, ClientError>> + Send + '_ {
        stream::try_unfold(Some(from), move |cursor| async move {
            let Some(from) = cursor else {
                return Ok(None);
            };
            let page = self.checkpoints(from).await?;
            let mut last = None;
            for entry in &page.checkpoints {
                if entry.size < from || last.is_some_and(|l| entry.size <= l) {
                    return Err(paging(format!(
                        "GET /v1/checkpoints?from={from}: size {} out of order",
                        entry.size
                    )));
                }
                last = Some(entry.size);
            }
            if let Some(next) = page.next
                && last.is_none_or(|l| next <= l)
            {
                return Err(paging(format!(
                    "GET /v1/checkpoints?from={from}: next page {next} does not follow"
                )));
            }
            Ok(Some((
                stream::iter(page.checkpoints.into_iter().map(Ok)),
                page.next,
            )))
        })
        .try_flatten()
    }

    /// The account's history from position `from` against the checkpoint of `size` (latest if
    /// `None`), page by page, unverified (see [`Client::verified_history`]).
    pub fn history_stream<'a>(
        &'a self,
        key: &'a PublicKey,
        from: u64,
        size: Option<u64>,
    ) -> impl Stream<Item = Result<HistoryEntry, ClientError>> + Send + 'a {
        stream::try_unfold(Some(from), move |cursor| async move {
            let Some(from) = cursor else {
                return Ok(None);
            };
            let page = self.history(key, from, size).await?;
            if page.from != from {
                return Err(paging(format!(
                    "history page asked from {from} starts at {}",
                    page.from
                )));
            }
            if let Some(next) = page.next
                && next != from + page.entries.len() as u64
            {
                return Err(paging(format!(
                    "history page from {from} with {} entries says the next starts at {next}",
                    page.entries.len()
                )));
            }
            let next = page.next.filter(|_| !page.entries.is_empty());
            Ok(Some((stream::iter(page.entries.into_iter().map(Ok)), next)))
        })
        .try_flatten()
    }
}
