//! Bytes to Datecs packets on a stream: split reads, several frames in one
//! read, garbage before a frame, bad checksums and resync.
//!
//! The decoder yields [`Packet`]s: a wrapped frame, a single NAK or SYN byte,
//! or a well-formed frame whose checksum is wrong (so the peer can NAK it or
//! the host can resend). Bytes that cannot start a packet are skipped.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::frame::{DecodeError, Frame, Framing, NAK, PRE, SYN};
use crate::Error;

/// One unit read from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Frame(Frame),
    Nak,
    Syn,
    /// A frame-shaped run of bytes with a bad checksum (already skipped).
    Corrupt(String),
}

/// Stream codec for either framing. `framing: None` accepts both.
#[derive(Debug, Clone, Default)]
pub struct DatecsCodec {
    pub framing: Option<Framing>,
    /// Bytes skipped as garbage so far (for diagnostics).
    pub skipped: usize,
}

impl DatecsCodec {
    pub fn new(framing: Option<Framing>) -> Self {
        DatecsCodec {
            framing,
            skipped: 0,
        }
    }

    /// Decodes one packet from `buf`, advancing it past what was used.
    pub fn next_packet(&mut self, buf: &mut BytesMut) -> Option<Packet> {
        loop {
            let start = buf.iter().position(|b| *b == PRE || *b == NAK || *b == SYN);
            let Some(start) = start else {
                self.skipped += buf.len();
                buf.clear();
                return None;
            };
            if start > 0 {
                self.skipped += start;
                buf.advance(start);
            }
            match buf[0] {
                NAK => {
                    buf.advance(1);
                    return Some(Packet::Nak);
                }
                SYN => {
                    buf.advance(1);
                    return Some(Packet::Syn);
                }
                _ => {}
            }
            match Frame::decode(buf, self.framing) {
                Ok((frame, used)) => {
                    buf.advance(used);
                    return Some(Packet::Frame(frame));
                }
                Err(DecodeError::Incomplete) => return None,
                Err(e @ DecodeError::BadBcc { len, .. }) => {
                    buf.advance(len);
                    return Some(Packet::Corrupt(e.to_string()));
                }
                Err(DecodeError::Invalid(_)) => {
                    // Not a frame here: skip this 0x01 and look for the next.
                    self.skipped += 1;
                    buf.advance(1);
                }
            }
        }
    }
}

impl Decoder for DatecsCodec {
    type Item = Packet;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, Error> {
        Ok(self.next_packet(src))
    }
}

impl Encoder<Frame> for DatecsCodec {
    type Error = Error;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), Error> {
        let bytes = item.encode().map_err(Error::InvalidRequest)?;
        dst.extend_from_slice(&bytes);
        Ok(())
    }
}

/// Decodes every packet in a complete byte string (for `kasa fiscal decode`
/// and tests). Trailing bytes that do not complete a frame are returned.
pub fn decode_all(bytes: &[u8], framing: Option<Framing>) -> (Vec<Packet>, Vec<u8>) {
    let mut codec = DatecsCodec::new(framing);
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(p) = codec.next_packet(&mut buf) {
        out.push(p);
    }
    (out, buf.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::parse_hex;
    use proptest::prelude::*;

    fn data_byte() -> impl Strategy<Value = u8> {
        prop_oneof![0x20u8..=0xFF, Just(0x09u8), Just(0x0Au8)]
    }

    fn any_frame() -> impl Strategy<Value = Frame> {
        (
            prop_oneof![Just(Framing::Old), Just(Framing::X)],
            0x20u8..=0x7F,
            0x20u16..=0xFF,
            proptest::collection::vec(data_byte(), 0..200),
            proptest::option::of(proptest::collection::vec(0x80u8..=0xFF, 8)),
        )
            .prop_map(|(framing, seq, cmd, mut data, status)| {
                let status = status.map(|mut s| {
                    s.truncate(framing.status_len());
                    s
                });
                if framing == Framing::Old {
                    data.truncate(if status.is_some() { 200 } else { 210 });
                }
                Frame {
                    framing,
                    seq,
                    cmd,
                    data,
                    status,
                }
            })
    }

    proptest! {
        #[test]
        fn round_trip(f in any_frame()) {
            let bytes = f.encode().unwrap();
            let (back, n) = Frame::decode(&bytes, Some(f.framing)).unwrap();
            prop_assert_eq!(n, bytes.len());
            prop_assert_eq!(&back, &f);
            let (all, rest) = decode_all(&bytes, None);
            prop_assert!(rest.is_empty());
            prop_assert_eq!(all, vec![Packet::Frame(f)]);
        }

        #[test]
        fn every_split_point(f in any_frame(), g in any_frame()) {
            let mut bytes = f.encode().unwrap();
            bytes.extend(g.encode().unwrap());
            for split in 0..=bytes.len() {
                let mut codec = DatecsCodec::new(None);
                let mut buf = BytesMut::from(&bytes[..split]);
                let mut got = Vec::new();
                while let Some(p) = codec.next_packet(&mut buf) { got.push(p); }
                buf.extend_from_slice(&bytes[split..]);
                while let Some(p) = codec.next_packet(&mut buf) { got.push(p); }
                prop_assert_eq!(got, vec![Packet::Frame(f.clone()), Packet::Frame(g.clone())]);
            }
        }

        #[test]
        fn garbage_before_a_frame(f in any_frame(),
                                  junk in proptest::collection::vec(
                                      (0u8..=0xFF).prop_filter("no markers",
                                          |b| *b != PRE && *b != NAK && *b != SYN), 0..40)) {
            let mut bytes = junk.clone();
            bytes.extend(f.encode().unwrap());
            let (all, rest) = decode_all(&bytes, Some(f.framing));
            prop_assert!(rest.is_empty());
            prop_assert_eq!(all, vec![Packet::Frame(f)]);
        }

        #[test]
        fn corrupt_bcc_is_rejected(f in any_frame(), delta in 1u8..15) {
            let mut bytes = f.encode().unwrap();
            let i = bytes.len() - 2; // last BCC nibble
            bytes[i] = 0x30 + ((bytes[i] - 0x30 + delta) & 0x0F);
            let (all, _) = decode_all(&bytes, Some(f.framing));
            prop_assert_eq!(all.len(), 1);
            prop_assert!(matches!(all[0], Packet::Corrupt(_)));
        }
    }

    #[test]
    fn nak_syn_and_garbage() {
        let mut bytes = parse_hex("00 FF 16 16 15 01 02").unwrap();
        bytes.extend(parse_hex("01 25 21 5A 31 05 30 30 3D 36 03").unwrap());
        let (all, rest) = decode_all(&bytes, Some(Framing::Old));
        assert_eq!(all.len(), 4);
        assert_eq!(&all[..3], &[Packet::Syn, Packet::Syn, Packet::Nak]);
        assert!(matches!(&all[3], Packet::Frame(f) if f.cmd == 0x5A));
        assert!(rest.is_empty());
    }
}
