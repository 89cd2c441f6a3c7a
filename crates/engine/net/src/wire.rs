//! Frames on a node link: a 4-byte big-endian length, then a protobuf
//! [`PeerFrame`](covenant_types::pb::PeerFrame).

use covenant_types::pb::PeerFrame;
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame a node accepts unless configured otherwise: 64 MiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 << 20;

/// Why reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the connection closed")]
    Closed,
    #[error("a frame of {size} bytes is over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("undecodable frame: {0}")]
    Decode(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl WireError {
    /// A stable code for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            WireError::Closed => "closed",
            WireError::TooLarge { .. } => "too_large",
            WireError::Decode(_) => "decode",
            WireError::Io(_) => "io",
        }
    }
}

/// A frame with its length prefix.
pub fn encode(frame: &PeerFrame) -> Vec<u8> {
    let len = frame.encoded_len();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    frame.encode(&mut out).unwrap_or(());
    out
}

/// Decode a frame body (without the length prefix).
pub fn decode(body: &[u8]) -> Result<PeerFrame, WireError> {
    PeerFrame::decode(body).map_err(|e| WireError::Decode(e.to_string()))
}

/// Read one frame, refusing frames over `limit` bytes before reading them.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limit: usize,
) -> Result<PeerFrame, WireError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(WireError::Closed),
        Err(e) => return Err(WireError::Io(e)),
    }
    let size = u32::from_be_bytes(len) as usize;
    if size > limit {
        return Err(WireError::TooLarge { size, limit });
    }
    let mut body = vec![0u8; size];
    r.read_exact(&mut body).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            WireError::Closed
        } else {
            WireError::Io(e)
        }
    })?;
    decode(&body)
}

/// Write one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    frame: &PeerFrame,
) -> std::io::Result<()> {
    w.write_all(&encode(frame)).await
}

#[cfg(test)]
mod tests {
    use covenant_types::pb::{ChainFrame, peer_frame::Body};

    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_limits_hold() {
        let frame = PeerFrame {
            body: Some(Body::Chain(ChainFrame {
                chain_id: "main".into(),
                kind: 3,
                request_id: 9,
                response: false,
                payload: vec![7; 1000],
                error: String::new(),
            })),
        };
        let bytes = encode(&frame);
        let mut r = bytes.as_slice();
        assert_eq!(read_frame(&mut r, 2000).await.unwrap(), frame);
        let mut r = bytes.as_slice();
        assert!(matches!(
            read_frame(&mut r, 100).await,
            Err(WireError::TooLarge { size, limit: 100 }) if size == bytes.len() - 4
        ));
        let mut r = &bytes[..bytes.len() - 1];
        assert!(matches!(
            read_frame(&mut r, 2000).await,
            Err(WireError::Closed)
        ));
        let mut junk = vec![0, 0, 0, 5];
        junk.extend_from_slice(&[0xff; 5]);
        let mut r = junk.as_slice();
        assert!(matches!(
            read_frame(&mut r, 2000).await,
            Err(WireError::Decode(_))
        ));
    }
}
