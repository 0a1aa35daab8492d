//! The wire forms of the hotplug messages (plain bytes in an IPC param).

/// What a hotplug notice names: a port, the generation of its slot, and for a prepare how
/// long the receiver may wait for the port to be released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    /// Port id.
    pub port: u16,
    /// The slot's generation when the port was attached.
    pub generation: u32,
    /// Milliseconds the receiver may wait (prepare only; 0 otherwise).
    pub wait_ms: u32,
}

impl Notice {
    /// Encodes: port (u16 LE), generation (u32 LE), wait (u32 LE).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.port.to_le_bytes().to_vec();
        v.extend_from_slice(&self.generation.to_le_bytes());
        v.extend_from_slice(&self.wait_ms.to_le_bytes());
        v
    }

    /// Inverse of [`Notice::encode`]; None for a malformed parameter.
    pub fn decode(p: &[u8]) -> Option<Notice> {
        if p.len() != 10 {
            return None;
        }
        Some(Notice {
            port: u16::from_le_bytes([p[0], p[1]]),
            generation: u32::from_le_bytes(p[2..6].try_into().ok()?),
            wait_ms: u32::from_le_bytes(p[6..10].try_into().ok()?),
        })
    }
}

/// A process's answer to a notice: done, or refused and why; with the answering pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The answering process.
    pub pid: u32,
    /// None when done; the reason when refused.
    pub refused: Option<String>,
}

/// Longest text carried in an answer or a request (the IPC param is 256 bytes).
pub const MAX_TEXT: usize = 240;

fn clip(s: &str) -> &str {
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Answer {
    /// Encodes: status (0 done, 1 refused), pid (u32 LE), reason (UTF-8, clipped).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![u8::from(self.refused.is_some())];
        v.extend_from_slice(&self.pid.to_le_bytes());
        if let Some(r) = &self.refused {
            v.extend_from_slice(clip(r).as_bytes());
        }
        v
    }

    /// Inverse of [`Answer::encode`]; None for a malformed parameter.
    pub fn decode(p: &[u8]) -> Option<Answer> {
        if p.len() < 5 || p[0] > 1 {
            return None;
        }
        let pid = u32::from_le_bytes(p[1..5].try_into().ok()?);
        let refused = (p[0] == 1).then(|| String::from_utf8_lossy(&p[5..]).into_owned());
        Some(Answer { pid, refused })
    }
}

/// What a secondary asks the primary to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Attach the device of these devargs.
    Attach(String),
    /// Detach this port.
    Detach(u16),
}

impl Request {
    /// Encodes: op (1 attach, 2 detach), then the devargs (UTF-8) or the port (u16 LE).
    /// None when the devargs are too long for one message.
    pub fn encode(&self) -> Option<Vec<u8>> {
        match self {
            Request::Attach(a) if a.len() <= MAX_TEXT => {
                let mut v = vec![1];
                v.extend_from_slice(a.as_bytes());
                Some(v)
            }
            Request::Attach(_) => None,
            Request::Detach(p) => {
                let mut v = vec![2];
                v.extend_from_slice(&p.to_le_bytes());
                Some(v)
            }
        }
    }

    /// Inverse of [`Request::encode`]; None for a malformed parameter.
    pub fn decode(p: &[u8]) -> Option<Request> {
        match p.split_first()? {
            (1, rest) => Some(Request::Attach(std::str::from_utf8(rest).ok()?.to_string())),
            (2, [a, b]) => Some(Request::Detach(u16::from_le_bytes([*a, *b]))),
            _ => None,
        }
    }
}

/// The primary's answer to a [`Request`]: the port attached or detached, or the error text.
pub fn encode_outcome(r: &Result<u16, String>) -> Vec<u8> {
    match r {
        Ok(port) => {
            let mut v = vec![0];
            v.extend_from_slice(&port.to_le_bytes());
            v
        }
        Err(e) => {
            let mut v = vec![1];
            v.extend_from_slice(clip(e).as_bytes());
            v
        }
    }
}

/// Inverse of [`encode_outcome`]; None for a malformed parameter.
pub fn decode_outcome(p: &[u8]) -> Option<Result<u16, String>> {
    match p.split_first()? {
        (0, [a, b]) => Some(Ok(u16::from_le_bytes([*a, *b]))),
        (1, rest) => Some(Err(String::from_utf8_lossy(rest).into_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_malformed() {
        let n = Notice { port: 7, generation: 9, wait_ms: 3000 };
        assert_eq!(Notice::decode(&n.encode()), Some(n));
        assert_eq!(Notice::decode(&n.encode()[..9]), None);
        let a = Answer { pid: 42, refused: Some("busy".into()) };
        assert_eq!(Answer::decode(&a.encode()), Some(a));
        let ok = Answer { pid: 1, refused: None };
        assert_eq!(Answer::decode(&ok.encode()), Some(ok));
        assert_eq!(Answer::decode(&[2, 0, 0, 0, 0]), None);
        for r in [Request::Attach("net_null3,size=64".into()), Request::Detach(5)] {
            assert_eq!(Request::decode(&r.encode().unwrap()), Some(r));
        }
        assert_eq!(Request::Attach("x".repeat(300)).encode(), None);
        assert_eq!(Request::decode(&[2, 1]), None);
        assert_eq!(Request::decode(&[]), None);
        assert_eq!(decode_outcome(&encode_outcome(&Ok(3))), Some(Ok(3)));
        assert_eq!(decode_outcome(&encode_outcome(&Err("no".into()))), Some(Err("no".into())));
        assert_eq!(decode_outcome(&[0, 1]), None);
        let long = "é".repeat(200);
        assert!(Answer::decode(&Answer { pid: 1, refused: Some(long) }.encode()).is_some());
    }
}
