//! Reading capture files back as a user would: the frames through `tcpdump -r` (the real
//! reader, not ours), and the interface statistics blocks of a pcapng file. Used by the host
//! dumpcap tests and, included by path, by the QEMU guest capture test.

use std::path::Path;
use std::process::Command;

/// The frames of a capture file as tcpdump reads them: (timestamp text, bytes).
pub fn tcpdump_frames(file: &Path) -> Vec<(String, Vec<u8>)> {
    let out = Command::new("tcpdump")
        .args(["-nn", "-xx", "--time-stamp-precision=nano", "-tt", "-r"])
        .arg(file)
        .output()
        .expect("tcpdump is needed to read the capture back: apt-get install tcpdump (tests/setup-dpdk.sh does)");
    assert!(out.status.success(), "tcpdump -r failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut frames: Vec<(String, Vec<u8>)> = Vec::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(hex) = l.trim_start().strip_prefix("0x").and_then(|r| r.split_once(':')).map(|(_, h)| h) {
            let last = frames.last_mut().expect("hex after a header line");
            for word in hex.split_whitespace() {
                for i in (0..word.len()).step_by(2) {
                    last.1.push(u8::from_str_radix(&word[i..i + 2], 16).expect("hex"));
                }
            }
        } else if !l.starts_with(char::is_whitespace) {
            frames.push((l.split_whitespace().next().unwrap_or("").to_string(), Vec::new()));
        }
    }
    frames
}

/// The options of each interface statistics block of a pcapng file: (code, value) pairs.
#[allow(dead_code, reason = "the guest capture test reads frames only")]
pub fn isb_options(file: &Path) -> Vec<Vec<(u16, u64)>> {
    let b = std::fs::read(file).unwrap();
    let (mut at, mut out) = (0usize, Vec::new());
    let u32_at = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap());
    while at + 12 <= b.len() {
        let (kind, len) = (u32_at(at), u32_at(at + 4) as usize);
        assert!(len >= 12 && len % 4 == 0 && at + len <= b.len(), "block at {at}: bad length {len}");
        if kind == 5 {
            let (mut o, end, mut opts) = (at + 20, at + len - 4, Vec::new());
            while o + 4 <= end {
                let code = u16::from_ne_bytes(b[o..o + 2].try_into().unwrap());
                let l = u16::from_ne_bytes(b[o + 2..o + 4].try_into().unwrap()) as usize;
                if code == 0 {
                    break;
                }
                if l == 8 {
                    opts.push((code, u64::from_ne_bytes(b[o + 4..o + 12].try_into().unwrap())));
                }
                o += 4 + l.next_multiple_of(4);
            }
            out.push(opts);
        }
        at += len;
    }
    out
}
