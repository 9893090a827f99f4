//! The binary batch form of a submission (`Content-Type: application/octet-stream`): the leaves
//! concatenated, each preceded by its length as a 4-byte big-endian integer. Re-exported from
//! [`crate::api`]; the node decodes it, high-volume clients encode it, and both use these two
//! functions so the framing is written once.
//!
//! ```text
//! 00 00 00 03 'a' 'b' 'c'  00 00 00 00  00 00 00 02 'd' 'e'   = the leaves "abc", "", "de"
//! ```

/// Why bytes are not a binary batch. Nothing is decoded from bytes that fail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchFramingError {
    /// Fewer than 4 bytes remain where a length prefix must start.
    #[error("binary batch: leaf {leaf} has a truncated length prefix ({remaining} of 4 bytes)")]
    TruncatedLength {
        /// Which leaf (0-based) the prefix belongs to.
        leaf: usize,
        /// Bytes left.
        remaining: usize,
    },
    /// A length prefix declares more bytes than remain.
    #[error("binary batch: leaf {leaf} declares {declared} bytes, {remaining} remain")]
    TruncatedLeaf {
        /// Which leaf (0-based).
        leaf: usize,
        /// The length its prefix declares.
        declared: u32,
        /// Bytes left after the prefix.
        remaining: usize,
    },
}

/// Encodes leaves in the binary batch form.
///
/// # Panics
/// If a leaf is 4 GiB or longer, which the prefix cannot express; leaves are bounded by
/// [`crate::entry::MAX_LEAF_LEN`], far below that.
pub fn encode_binary_batch<'a>(leaves: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for leaf in leaves {
        let len = u32::try_from(leaf.len()).expect("a leaf of 4 GiB or more cannot be framed");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(leaf);
    }
    out
}

/// Splits a binary batch into its leaves, borrowing from `bytes`. Empty input is an empty batch.
///
/// # Errors
/// [`BatchFramingError`] if a length prefix or a leaf is cut short.
pub fn decode_binary_batch(mut bytes: &[u8]) -> Result<Vec<&[u8]>, BatchFramingError> {
    let mut leaves = Vec::new();
    while !bytes.is_empty() {
        let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
            return Err(BatchFramingError::TruncatedLength {
                leaf: leaves.len(),
                remaining: bytes.len(),
            });
        };
        let declared = u32::from_be_bytes(*len);
        let Some((leaf, rest)) = usize::try_from(declared)
            .ok()
            .and_then(|len| rest.split_at_checked(len))
        else {
            return Err(BatchFramingError::TruncatedLeaf {
                leaf: leaves.len(),
                declared,
                remaining: rest.len(),
            });
        };
        leaves.push(leaf);
        bytes = rest;
    }
    Ok(leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_round_trip_including_empty_ones() {
        let leaves: [&[u8]; 3] = [b"abc", b"", b"de"];
        let batch = encode_binary_batch(leaves);
        assert_eq!(
            batch,
            [
                &[0, 0, 0, 3][..],
                b"abc",
                &[0, 0, 0, 0],
                &[0, 0, 0, 2],
                b"de"
            ]
            .concat()
        );
        assert_eq!(decode_binary_batch(&batch).unwrap(), leaves);
        assert_eq!(decode_binary_batch(&[]).unwrap(), Vec::<&[u8]>::new());
    }

    #[test]
    fn a_cut_prefix_or_leaf_is_refused_with_where() {
        let batch = encode_binary_batch([&b"abc"[..], &b"de"[..]]);
        assert_eq!(
            decode_binary_batch(&batch[..batch.len() - 1]),
            Err(BatchFramingError::TruncatedLeaf {
                leaf: 1,
                declared: 2,
                remaining: 1
            })
        );
        assert_eq!(
            decode_binary_batch(&batch[..9]),
            Err(BatchFramingError::TruncatedLength {
                leaf: 1,
                remaining: 2
            })
        );
        assert_eq!(
            decode_binary_batch(&[0xff, 0xff, 0xff, 0xff, 1]),
            Err(BatchFramingError::TruncatedLeaf {
                leaf: 0,
                declared: u32::MAX,
                remaining: 1
            })
        );
    }
}
