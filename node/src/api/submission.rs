//! The JSON form of a submission, parsed in one pass with a bound on the number of leaves.
//!
//! `ledger::api::Submission` is an untagged enum, and serde reads an untagged enum by first
//! buffering the whole document into a tree of its own values; an 8 MiB batch of empty strings
//! then cost about 31 MiB before it was refused. This reads the object's one key straight into
//! leaves, decoding each base64 string as it goes, and stops at the first leaf past
//! `max_leaves`, so what a body costs is its decoded leaves and nothing more.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use testigo_ledger::api::Bytes;

/// `{"leaf": ..}` or `{"leaves": [..]}`, as parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JsonSubmission {
    /// One entry, answered with its own result.
    One(Vec<u8>),
    /// A batch, answered with one result per leaf.
    Batch(Vec<Vec<u8>>),
}

/// Parses a JSON submission holding at most `max_leaves` leaves.
///
/// # Errors
/// serde_json's message, or one naming the bound; nothing past the bound is decoded.
pub(crate) fn parse(bytes: &[u8], max_leaves: usize) -> Result<JsonSubmission, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = de
        .deserialize_map(SubmissionVisitor { max_leaves })
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(parsed)
}

struct SubmissionVisitor {
    max_leaves: usize,
}

impl<'de> Visitor<'de> for SubmissionVisitor {
    type Value = JsonSubmission;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with \"leaf\" or \"leaves\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Key>()? {
            let value = match key {
                Key::Leaf => JsonSubmission::One(map.next_value::<Bytes>()?.0),
                Key::Leaves => JsonSubmission::Batch(map.next_value_seed(LeavesSeed {
                    max_leaves: self.max_leaves,
                })?),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if found.replace(value).is_some() {
                return Err(de::Error::custom(
                    "a submission has exactly one of \"leaf\" and \"leaves\"",
                ));
            }
        }
        found.ok_or_else(|| de::Error::custom("a submission needs \"leaf\" or \"leaves\""))
    }
}

/// The object's keys: the two that mean something, and any other (ignored, as the untagged
/// form ignored them).
enum Key {
    Leaf,
    Leaves,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "leaf" => Key::Leaf,
                    "leaves" => Key::Leaves,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

struct LeavesSeed {
    max_leaves: usize,
}

impl<'de> DeserializeSeed<'de> for LeavesSeed {
    type Value = Vec<Vec<u8>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LeavesSeed {
    type Value = Vec<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of at most {} base64 leaves", self.max_leaves)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut leaves = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max_leaves));
        while let Some(leaf) = seq.next_element::<Bytes>()? {
            if leaves.len() == self.max_leaves {
                return Err(de::Error::custom(format!(
                    "a batch holds at most {} leaves",
                    self.max_leaves
                )));
            }
            leaves.push(leaf.0);
        }
        Ok(leaves)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_and_what_is_not_a_submission_is_refused() {
        assert_eq!(
            parse(br#"{"leaf":"AAE="}"#, 4),
            Ok(JsonSubmission::One(vec![0, 1]))
        );
        assert_eq!(
            parse(br#"{"leaves":["AAE=",""],"note":{"x":[1]}}"#, 4),
            Ok(JsonSubmission::Batch(vec![vec![0, 1], vec![]]))
        );
        for bad in [
            &br#"{"leaf":"AAE=","leaves":[]}"#[..],
            br#"{}"#,
            br#"[]"#,
            br#"{"leaf":"not base64!"}"#,
            br#"{"leaf":"AAE="} x"#,
            br#"{"leaves":"AAE="}"#,
        ] {
            assert!(parse(bad, 4).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_batch_past_the_bound_stops_at_the_first_leaf_too_many() {
        let body = format!("{{\"leaves\":[{}]}}", ["\"\""; 5].join(","));
        assert_eq!(parse(body.as_bytes(), 5).map(|_| ()), Ok(()));
        let error = parse(body.as_bytes(), 4).unwrap_err();
        assert!(error.contains("at most 4 leaves"), "{error}");
    }
}
