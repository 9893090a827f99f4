//! The leaf-range protocol's libp2p codec: one request and one response per stream, each the
//! bytes of `testigo_ledger::replication` read to the end of the stream, never more than its
//! limit (a peer that sends more is cut off at the limit and its message refused).

use std::io;

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p::StreamProtocol;
use libp2p::request_response;
use testigo_ledger::replication::{
    LeafRangeRequest, LeafRangeResponse, MAX_RANGE_RESPONSE_BYTES, RANGE_REQUEST_LEN,
};

/// The protocol name negotiated on each stream.
pub(crate) const LEAF_RANGE_PROTOCOL: StreamProtocol = StreamProtocol::new("/testigo/leaves/1");

/// Reads and writes [`LeafRangeRequest`]s and [`LeafRangeResponse`]s.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LeafRangeCodec;

/// Reads the whole stream, refusing it once it passes `limit` bytes.
async fn read_limited<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    limit: usize,
) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    io.take(cap).read_to_end(&mut bytes).await?;
    if bytes.len() > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message longer than its limit of {limit} bytes"),
        ));
    }
    Ok(bytes)
}

/// Writes the whole message and closes the stream (the reader reads to its end).
async fn write_closed<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    io.write_all(bytes).await?;
    io.close().await
}

fn invalid(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl request_response::Codec for LeafRangeCodec {
    type Protocol = StreamProtocol;
    type Request = LeafRangeRequest;
    type Response = LeafRangeResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Self::Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_limited(io, RANGE_REQUEST_LEN).await?;
        LeafRangeRequest::decode(&bytes).map_err(invalid)
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Self::Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_limited(io, MAX_RANGE_RESPONSE_BYTES).await?;
        LeafRangeResponse::decode(&bytes).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Self::Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_closed(io, &request.encode()).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Self::Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_closed(io, &response.encode()).await
    }
}

#[cfg(test)]
mod tests {
    use futures::io::Cursor;
    use libp2p::request_response::Codec as _;

    use super::*;

    #[tokio::test]
    async fn messages_round_trip_and_oversized_streams_are_cut_off() {
        let mut codec = LeafRangeCodec;
        let request = LeafRangeRequest { start: 1, end: 3 };
        let mut wire = Cursor::new(Vec::new());
        codec
            .write_request(&LEAF_RANGE_PROTOCOL, &mut wire, request)
            .await
            .unwrap();
        let mut read = Cursor::new(wire.into_inner());
        assert_eq!(
            codec
                .read_request(&LEAF_RANGE_PROTOCOL, &mut read)
                .await
                .unwrap(),
            request
        );
        let response = LeafRangeResponse {
            start: 1,
            leaves: vec![vec![7; 200]; 2],
            checkpoints: Vec::new(),
            tree_size: 3,
        };
        let mut wire = Cursor::new(Vec::new());
        codec
            .write_response(&LEAF_RANGE_PROTOCOL, &mut wire, response.clone())
            .await
            .unwrap();
        let mut read = Cursor::new(wire.into_inner());
        assert_eq!(
            codec
                .read_response(&LEAF_RANGE_PROTOCOL, &mut read)
                .await
                .unwrap(),
            response
        );
        // A request stream that goes on past 17 bytes is refused without reading it all.
        let mut flood = Cursor::new(vec![1u8; 1 << 20]);
        let error = codec
            .read_request(&LEAF_RANGE_PROTOCOL, &mut flood)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(flood.position() <= RANGE_REQUEST_LEN as u64 + 1);
        let mut flood = Cursor::new(vec![1u8; MAX_RANGE_RESPONSE_BYTES + 10]);
        let error = codec
            .read_response(&LEAF_RANGE_PROTOCOL, &mut flood)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
