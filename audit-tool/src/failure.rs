//! What a replay reports when something does not verify: where, a stable code, a sentence, and
//! what was expected against what was found.

use std::fmt;

use serde::Serialize;

/// Where a failure shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "at", content = "n")]
pub enum At {
    /// The leaf of this index (as the source numbers it).
    Leaf(u64),
    /// The checkpoint read after this many leaves.
    Checkpoint(u64),
    /// The end of a log of this many leaves.
    End(u64),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Leaf(i) => write!(f, "leaf {i}"),
            At::Checkpoint(n) => write!(f, "checkpoint after leaf {}", n.saturating_sub(1)),
            At::End(n) => write!(f, "end of the log ({n} leaves)"),
        }
    }
}

/// One thing that does not verify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Where.
    #[serde(flatten)]
    pub at: At,
    /// A stable snake_case code (the ledger's rejection codes for broken rules).
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// What the audit computed or required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What the log holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

impl Failure {
    /// A failure without expected and found values.
    pub fn new(at: At, code: &str, message: impl Into<String>) -> Self {
        Self {
            at,
            code: code.to_owned(),
            message: message.into(),
            expected: None,
            found: None,
        }
    }

    /// With what was expected.
    pub fn expected(mut self, value: impl fmt::Display) -> Self {
        self.expected = Some(value.to_string());
        self
    }

    /// With what was found.
    pub fn found(mut self, value: impl fmt::Display) -> Self {
        self.found = Some(value.to_string());
        self
    }

    /// The leaf index, for a failure at a leaf.
    pub fn leaf(&self) -> Option<u64> {
        match self.at {
            At::Leaf(i) => Some(i),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.at, self.message, self.code)?;
        if let Some(e) = &self.expected {
            write!(f, "; expected {e}")?;
        }
        if let Some(found) = &self.found {
            write!(f, "; found {found}")?;
        }
        Ok(())
    }
}
