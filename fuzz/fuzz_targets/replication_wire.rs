//! Arbitrary bytes as every replication message a peer can send over libp2p (PROTOCOL §12):
//! leaf-range requests and responses, and gossip on each topic. Decoding never panics, stays
//! within its limits, and what decodes re-encodes to the same bytes (gossip text and evidence
//! JSON excepted: JSON has more than one spelling, so only its decoded value is re-checked).

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::replication::{
    GossipKind, GossipMessage, LeafRangeRequest, LeafRangeResponse, MAX_RANGE_LEAVES,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = LeafRangeRequest::decode(data) {
        assert!(request.end > request.start && request.end - request.start <= MAX_RANGE_LEAVES);
        assert_eq!(request.encode().as_slice(), data);
    }
    if let Ok(response) = LeafRangeResponse::decode(data) {
        assert!(response.leaves.len() as u64 <= MAX_RANGE_LEAVES);
        assert_eq!(response.encode(), data);
        assert_eq!(response.encoded_len(), data.len());
    }
    for kind in GossipKind::ALL {
        if let Ok(message) = GossipMessage::decode(kind, data) {
            assert_eq!(message.kind(), kind);
            let again = GossipMessage::decode(kind, &message.encode()).expect("re-decodes");
            assert_eq!(again, message);
        }
    }
});
