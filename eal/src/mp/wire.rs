//! Wire format of one IPC datagram: a fixed, versioned, self-describing
//! header followed by the action name and the param bytes. Fds travel beside
//! it as `SCM_RIGHTS` and are counted in the header.
//!
//! ```text
//! offset size field
//!  0     4    magic       "BYMP" (0x42 0x59 0x4d 0x50)
//!  4     2    version     1, little endian
//!  6     1    kind        1 message, 2 request, 3 reply, 4 ignore
//!  7     1    nb_fds      fds attached (0..=8)
//!  8     8    id          request id (0 for a message), little endian
//! 16     4    pid         sender's pid (informative), little endian
//! 20     1    name_len    1..=63
//! 21     1    reserved    0
//! 22     2    param_len   0..=256, little endian
//! 24          name (UTF-8, no NUL), then param
//! ```
//! A datagram is accepted only if every field is in range and its length is
//! exactly `24 + name_len + param_len`.

use thiserror::Error;

/// Bytes 0..4 of every datagram.
pub(crate) const MAGIC: [u8; 4] = *b"BYMP";
/// The only protocol version this build speaks.
pub(crate) const VERSION: u16 = 1;
/// Size of the fixed header.
pub(crate) const HEADER_LEN: usize = 24;
/// Longest action name, in bytes.
pub const MAX_NAME_LEN: usize = 63;
/// Largest param, in bytes.
pub const MAX_PARAM_LEN: usize = 256;
/// Most fds one message may carry.
pub const MAX_FDS: usize = 8;
/// Largest valid datagram.
pub(crate) const MAX_DATAGRAM: usize = HEADER_LEN + MAX_NAME_LEN + MAX_PARAM_LEN;

/// What a datagram is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// Fire and forget.
    Message = 1,
    /// Wants one reply per receiver, matched by id.
    Request = 2,
    /// Answer to a request.
    Reply = 3,
    /// "No action of that name here": the requester stops waiting for us.
    Ignore = 4,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        match v {
            1 => Some(Kind::Message),
            2 => Some(Kind::Request),
            3 => Some(Kind::Reply),
            4 => Some(Kind::Ignore),
            _ => None,
        }
    }
}

/// Why a received datagram was dropped.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum WireError {
    #[error("datagram of {0} bytes is shorter than the {HEADER_LEN}-byte header")]
    Short(usize),
    #[error("bad magic {0:02x?} (not a Bypass IPC datagram)")]
    Magic([u8; 4]),
    #[error("protocol version {0}, this build speaks {VERSION}")]
    Version(u16),
    #[error("unknown kind {0}")]
    Kind(u8),
    #[error("reserved header byte is {0}, must be 0")]
    Reserved(u8),
    #[error("name length {0} outside 1..={MAX_NAME_LEN}")]
    NameLen(u8),
    #[error("param length {0} over {MAX_PARAM_LEN}")]
    ParamLen(u16),
    #[error("header declares {declared} fds, the limit is {MAX_FDS}")]
    FdLimit { declared: u8 },
    #[error("datagram is {got} bytes, header declares {want}")]
    Length { got: usize, want: usize },
    #[error("header declares {declared} fds, {got} arrived")]
    FdCount { declared: u8, got: usize },
    #[error("name is not UTF-8 or contains NUL")]
    Name,
    #[error("a message or request with a non-zero id, or a reply with id 0")]
    Id,
}

/// A decoded header plus borrowed name and param.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub kind: Kind,
    pub id: u64,
    pub pid: u32,
    pub nb_fds: usize,
    pub name: &'a str,
    pub param: &'a [u8],
}

/// A datagram ready to send, built on the stack.
pub(crate) struct Datagram {
    buf: [u8; MAX_DATAGRAM],
    len: usize,
}

impl Datagram {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Encodes a datagram. The caller has validated the limits (see
/// `check_limits` in the API); this asserts them again cheaply and refuses
/// out-of-range input instead of writing a bad header.
pub(crate) fn encode(kind: Kind, id: u64, pid: u32, name: &str, param: &[u8], nb_fds: usize) -> Option<Datagram> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || param.len() > MAX_PARAM_LEN || nb_fds > MAX_FDS {
        return None;
    }
    let mut buf = [0u8; MAX_DATAGRAM];
    buf[0..4].copy_from_slice(&MAGIC);
    buf[4..6].copy_from_slice(&VERSION.to_le_bytes());
    buf[6] = kind as u8;
    buf[7] = nb_fds as u8;
    buf[8..16].copy_from_slice(&id.to_le_bytes());
    buf[16..20].copy_from_slice(&pid.to_le_bytes());
    buf[20] = name.len() as u8;
    buf[21] = 0;
    buf[22..24].copy_from_slice(&(param.len() as u16).to_le_bytes());
    let n_end = HEADER_LEN + name.len();
    buf[HEADER_LEN..n_end].copy_from_slice(name.as_bytes());
    buf[n_end..n_end + param.len()].copy_from_slice(param);
    Some(Datagram { buf, len: n_end + param.len() })
}

/// Checks and decodes a received datagram; `fds_received` is how many fds
/// arrived with it.
pub(crate) fn decode(d: &[u8], fds_received: usize) -> Result<Frame<'_>, WireError> {
    if d.len() < HEADER_LEN {
        return Err(WireError::Short(d.len()));
    }
    let magic = [d[0], d[1], d[2], d[3]];
    if magic != MAGIC {
        return Err(WireError::Magic(magic));
    }
    let version = u16::from_le_bytes([d[4], d[5]]);
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let kind = Kind::from_u8(d[6]).ok_or(WireError::Kind(d[6]))?;
    let nb_fds = d[7];
    if nb_fds as usize > MAX_FDS {
        return Err(WireError::FdLimit { declared: nb_fds });
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&d[8..16]);
    let id = u64::from_le_bytes(id);
    let pid = u32::from_le_bytes([d[16], d[17], d[18], d[19]]);
    let name_len = d[20];
    if name_len == 0 || name_len as usize > MAX_NAME_LEN {
        return Err(WireError::NameLen(name_len));
    }
    if d[21] != 0 {
        return Err(WireError::Reserved(d[21]));
    }
    let param_len = u16::from_le_bytes([d[22], d[23]]);
    if param_len as usize > MAX_PARAM_LEN {
        return Err(WireError::ParamLen(param_len));
    }
    let want = HEADER_LEN + name_len as usize + param_len as usize;
    if d.len() != want {
        return Err(WireError::Length { got: d.len(), want });
    }
    if fds_received != nb_fds as usize {
        return Err(WireError::FdCount { declared: nb_fds, got: fds_received });
    }
    let name_end = HEADER_LEN + name_len as usize;
    let name = std::str::from_utf8(&d[HEADER_LEN..name_end]).map_err(|_| WireError::Name)?;
    if name.contains('\0') {
        return Err(WireError::Name);
    }
    let id_ok = match kind {
        Kind::Message => id == 0,
        Kind::Request | Kind::Reply | Kind::Ignore => id != 0,
    };
    if !id_ok {
        return Err(WireError::Id);
    }
    Ok(Frame { kind, id, pid, nb_fds: nb_fds as usize, name, param: &d[name_end..want] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Vec<u8> {
        encode(Kind::Request, 42, 1234, "eal_vfio", b"\x01\x02\x03", 2).unwrap().as_bytes().to_vec()
    }

    #[test]
    fn round_trip_all_kinds() {
        for (kind, id) in [(Kind::Message, 0), (Kind::Request, 7), (Kind::Reply, u64::MAX), (Kind::Ignore, 1)] {
            let param: Vec<u8> = (0..=255u8).collect();
            let d = encode(kind, id, 99, "x", &param, 8).unwrap();
            assert_eq!(d.as_bytes().len(), HEADER_LEN + 1 + 256);
            let f = decode(d.as_bytes(), 8).unwrap();
            assert_eq!(f, Frame { kind, id, pid: 99, nb_fds: 8, name: "x", param: &param });
        }
        let name = "n".repeat(MAX_NAME_LEN);
        let d = encode(Kind::Message, 0, 1, &name, &[], 0).unwrap();
        assert_eq!(decode(d.as_bytes(), 0).unwrap().name, name);
    }

    #[test]
    fn header_layout_is_stable() {
        let d = good();
        assert_eq!(&d[0..4], b"BYMP");
        assert_eq!(&d[4..6], &[1, 0]);
        assert_eq!(d[6], 2);
        assert_eq!(d[7], 2);
        assert_eq!(&d[8..16], &42u64.to_le_bytes());
        assert_eq!(&d[16..20], &1234u32.to_le_bytes());
        assert_eq!(d[20], 8);
        assert_eq!(d[21], 0);
        assert_eq!(&d[22..24], &[3, 0]);
        assert_eq!(&d[24..32], b"eal_vfio");
        assert_eq!(&d[32..], &[1, 2, 3]);
    }

    #[test]
    fn encode_refuses_out_of_range() {
        assert!(encode(Kind::Message, 0, 1, "", &[], 0).is_none());
        assert!(encode(Kind::Message, 0, 1, &"a".repeat(64), &[], 0).is_none());
        assert!(encode(Kind::Message, 0, 1, "a", &[0; 257], 0).is_none());
        assert!(encode(Kind::Message, 0, 1, "a", &[], 9).is_none());
    }

    #[test]
    fn rejects_malformed() {
        let g = good();
        assert_eq!(decode(&g, 2).map(|f| f.id), Ok(42));

        assert_eq!(decode(&[], 0), Err(WireError::Short(0)));
        assert_eq!(decode(&g[..23], 2), Err(WireError::Short(23)));
        // truncated body
        assert_eq!(decode(&g[..g.len() - 1], 2), Err(WireError::Length { got: g.len() - 1, want: g.len() }));
        // trailing garbage
        let mut long = g.clone();
        long.push(0);
        assert!(matches!(decode(&long, 2), Err(WireError::Length { .. })));

        let mut m = g.clone();
        m[0] = b'X';
        assert!(matches!(decode(&m, 2), Err(WireError::Magic(_))));
        let mut m = g.clone();
        m[4] = 2;
        assert_eq!(decode(&m, 2), Err(WireError::Version(2)));
        let mut m = g.clone();
        m[6] = 0;
        assert_eq!(decode(&m, 2), Err(WireError::Kind(0)));
        let mut m = g.clone();
        m[6] = 5;
        assert_eq!(decode(&m, 2), Err(WireError::Kind(5)));
        let mut m = g.clone();
        m[7] = 9;
        assert_eq!(decode(&m, 9), Err(WireError::FdLimit { declared: 9 }));
        assert_eq!(decode(&g, 1), Err(WireError::FdCount { declared: 2, got: 1 }));
        assert_eq!(decode(&g, 3), Err(WireError::FdCount { declared: 2, got: 3 }));
        let mut m = g.clone();
        m[20] = 0;
        assert_eq!(decode(&m, 2), Err(WireError::NameLen(0)));
        let mut m = g.clone();
        m[20] = 64;
        assert_eq!(decode(&m, 2), Err(WireError::NameLen(64)));
        let mut m = g.clone();
        m[21] = 1;
        assert_eq!(decode(&m, 2), Err(WireError::Reserved(1)));
        let mut m = g.clone();
        m[22..24].copy_from_slice(&257u16.to_le_bytes());
        assert_eq!(decode(&m, 2), Err(WireError::ParamLen(257)));
        let mut m = g.clone();
        m[24] = 0xff;
        assert_eq!(decode(&m, 2), Err(WireError::Name));
        let mut m = g.clone();
        m[25] = 0;
        assert_eq!(decode(&m, 2), Err(WireError::Name));
        let mut m = g.clone();
        m[8..16].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(decode(&m, 2), Err(WireError::Id));
        let msg = encode(Kind::Message, 0, 1, "a", &[], 0).unwrap();
        let mut m = msg.as_bytes().to_vec();
        m[8] = 1;
        assert_eq!(decode(&m, 0), Err(WireError::Id));
    }

    #[test]
    fn random_garbage_never_panics() {
        // xorshift: deterministic pseudo-random datagrams, some starting with
        // a valid header prefix
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let g = good();
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 400) as usize;
            let mut d: Vec<u8> = (0..len).map(|k| (x.rotate_left(k as u32 % 64) >> 3) as u8).collect();
            if i % 2 == 0 {
                let n = d.len().min(g.len()).min(8 + (x % 16) as usize);
                d[..n].copy_from_slice(&g[..n]);
            }
            let _ = decode(&d, (x % 10) as usize);
        }
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        fn kind_and_id() -> impl Strategy<Value = (Kind, u64)> {
            prop_oneof![
                Just((Kind::Message, 0u64)),
                (1u64..).prop_map(|id| (Kind::Request, id)),
                (1u64..).prop_map(|id| (Kind::Reply, id)),
                (1u64..).prop_map(|id| (Kind::Ignore, id)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

            /// Untrusted bytes never panic the parser, whatever fd count came with them.
            #[test]
            fn arbitrary_bytes_never_panic(d in proptest::collection::vec(any::<u8>(), 0..400), fds in 0usize..20) {
                let _ = decode(&d, fds);
            }

            /// Bytes that start with a valid header prefix (the interesting
            /// part of the input space) never panic either.
            #[test]
            fn valid_prefix_then_garbage_never_panics(
                cut in 0usize..=HEADER_LEN,
                tail in proptest::collection::vec(any::<u8>(), 0..350),
                fds in 0usize..10,
            ) {
                let good = encode(Kind::Request, 42, 7, "eal_vfio", b"abc", 1).unwrap();
                let mut d = good.as_bytes()[..cut].to_vec();
                d.extend_from_slice(&tail);
                let _ = decode(&d, fds);
            }

            /// encode -> decode gives back every field.
            #[test]
            fn encode_decode_round_trips(
                (kind, id) in kind_and_id(),
                pid in any::<u32>(),
                name in "[^\\x00]{1,20}".prop_filter("fits", |n| n.len() <= MAX_NAME_LEN),
                param in proptest::collection::vec(any::<u8>(), 0..=MAX_PARAM_LEN),
                nb_fds in 0usize..=MAX_FDS,
            ) {
                let d = encode(kind, id, pid, &name, &param, nb_fds).unwrap();
                let f = decode(d.as_bytes(), nb_fds).unwrap();
                prop_assert_eq!(f, Frame { kind, id, pid, nb_fds, name: &name, param: &param });
            }
        }
    }
}
