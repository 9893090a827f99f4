//! The binary batch form of `POST /v1/entries` (`Content-Type: application/octet-stream`): the
//! leaves concatenated, each preceded by its length as a 4-byte big-endian integer. Cheaper to
//! build and to parse than JSON with base64, which is why the load generator and bulk tools use it.

/// Why a binary batch does not split into leaves.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchFramingError {
    /// Fewer than 4 bytes where a length prefix must start.
    #[error("binary batch: truncated length prefix after {leaves} leaves")]
    TruncatedPrefix {
        /// Leaves read before it.
        leaves: usize,
    },
    /// A length prefix that runs past the end of the body.
    #[error("binary batch: leaf {leaf} declares {declared} bytes, {remaining} remain")]
    TruncatedLeaf {
        /// Position of the leaf in the batch.
        leaf: usize,
        /// Its declared length.
        declared: usize,
        /// Bytes left in the body.
        remaining: usize,
    },
}

/// Encodes leaves in the binary batch form.
///
/// # Panics
/// If a leaf is longer than `u32::MAX` bytes (leaves are bounded far below that).
pub fn encode_binary_batch<'a>(leaves: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for leaf in leaves {
        let len = u32::try_from(leaf.len()).expect("a leaf is far below 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(leaf);
    }
    out
}

/// Splits a binary batch into its leaves (borrowed from `bytes`).
///
/// # Errors
/// A [`BatchFramingError`] naming where the framing breaks.
pub fn split_binary_batch(mut bytes: &[u8]) -> Result<Vec<&[u8]>, BatchFramingError> {
    let mut leaves = Vec::new();
    while !bytes.is_empty() {
        let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
            return Err(BatchFramingError::TruncatedPrefix {
                leaves: leaves.len(),
            });
        };
        let declared = u32::from_be_bytes(*len) as usize;
        if declared > rest.len() {
            return Err(BatchFramingError::TruncatedLeaf {
                leaf: leaves.len(),
                declared,
                remaining: rest.len(),
            });
        }
        let (leaf, rest) = rest.split_at(declared);
        leaves.push(leaf);
        bytes = rest;
    }
    Ok(leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binary_form_round_trips_and_refuses_truncation() {
        let batch = encode_binary_batch([&b"abc"[..], &b""[..], &b"de"[..]]);
        assert_eq!(
            split_binary_batch(&batch).unwrap(),
            vec![&b"abc"[..], &b""[..], &b"de"[..]]
        );
        assert_eq!(
            split_binary_batch(&batch[..batch.len() - 1]),
            Err(BatchFramingError::TruncatedLeaf {
                leaf: 2,
                declared: 2,
                remaining: 1
            })
        );
        assert_eq!(
            split_binary_batch(&[0, 0]),
            Err(BatchFramingError::TruncatedPrefix { leaves: 0 })
        );
        assert_eq!(split_binary_batch(&[]), Ok(vec![]));
    }
}
