//! Bytes to PrivatBank frames on a stream: split on 0x00, whatever the reads.
//!
//! Frames may be split across reads or arrive several in one read; a stray
//! 0x00 (the handshake's leading one, or noise) gives an empty frame, which is
//! skipped. A run of bytes longer than the limit without a terminator is
//! dropped up to the next 0x00, and reported, so the stream resynchronises.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::frame::NUL;
use crate::Error;

/// The largest frame accepted (receipts are a few KiB).
pub const MAX_FRAME: usize = 256 * 1024;

/// What the decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// One frame's payload, without its 0x00.
    Frame(Bytes),
    /// This many bytes were dropped because no 0x00 came within the limit.
    Dropped(usize),
}

/// The 0x00-delimited frame codec (both directions).
#[derive(Debug, Clone)]
pub struct NulCodec {
    max_frame: usize,
    /// Bytes of `buf` already searched for a terminator.
    scanned: usize,
    /// Dropping an oversized frame until the next 0x00.
    dropping: usize,
}

impl Default for NulCodec {
    fn default() -> Self {
        Self::new(MAX_FRAME)
    }
}

impl NulCodec {
    /// A codec that drops frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            scanned: 0,
            dropping: 0,
        }
    }
}

impl Decoder for NulCodec {
    type Item = Chunk;
    type Error = Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, Error> {
        loop {
            let found = buf[self.scanned..].iter().position(|&b| b == NUL);
            match found {
                Some(offset) => {
                    let end = self.scanned + offset;
                    let payload = buf.split_to(end);
                    let _nul = buf.split_to(1);
                    self.scanned = 0;
                    if self.dropping > 0 {
                        let dropped = self.dropping + payload.len();
                        self.dropping = 0;
                        return Ok(Some(Chunk::Dropped(dropped)));
                    }
                    if payload.is_empty() {
                        continue;
                    }
                    return Ok(Some(Chunk::Frame(payload.freeze())));
                }
                None => {
                    if buf.len() > self.max_frame {
                        self.dropping += buf.len();
                        buf.clear();
                        self.scanned = 0;
                    } else {
                        self.scanned = buf.len();
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, Error> {
        match self.decode(buf)? {
            Some(chunk) => Ok(Some(chunk)),
            None => {
                // An unterminated tail at EOF is not a frame.
                let left = buf.len() + self.dropping;
                buf.clear();
                self.scanned = 0;
                self.dropping = 0;
                Ok((left > 0).then_some(Chunk::Dropped(left)))
            }
        }
    }
}

impl Encoder<Vec<u8>> for NulCodec {
    type Error = Error;

    /// `item` is an already encoded frame (see [`super::frame::Message::encode`]).
    fn encode(&mut self, item: Vec<u8>, dst: &mut BytesMut) -> Result<(), Error> {
        dst.extend_from_slice(&item);
        Ok(())
    }
}

/// Split a whole byte sequence into frames, as a stream reader would.
pub fn split_all(bytes: &[u8]) -> Vec<Chunk> {
    let mut codec = NulCodec::default();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = codec.decode(&mut buf) {
        out.push(chunk);
    }
    if let Ok(Some(chunk)) = codec.decode_eof(&mut buf) {
        out.push(chunk);
    }
    out
}
