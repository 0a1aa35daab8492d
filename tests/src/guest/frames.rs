//! The test frames both sides agree on: numbered frames of mixed sizes (60..=1514 bytes)
//! whose every byte follows from the sequence number, the direction tags, MAC address
//! helpers and the IPv4 header checksum of the drivers' own frame formats. Shared by the
//! guest programs (as `tests::guest::frames`) and the host-side tests (which include this
//! file by path), so it uses nothing but `std`.

/// Tag of frames from the host to the guest.
pub const TAG_H2G: u8 = 0x11;
/// Tag of frames from the guest to the host.
pub const TAG_G2H: u8 = 0x22;
/// The IEEE local experimental ethertype the test frames carry.
pub const ETHERTYPE: [u8; 2] = [0x88, 0xb5];
/// Smallest frame (without FCS).
pub const MIN_LEN: usize = 60;
/// Largest frame (without FCS) at MTU 1500.
pub const MAX_LEN: usize = 1514;
/// The host peer's MAC address.
pub const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

/// The length of frame `seq`: spread over 60..=1514 (a stride co-prime with the range).
pub fn len_of(seq: u32) -> usize {
    MIN_LEN + (seq as usize * 389) % (MAX_LEN - MIN_LEN + 1)
}

/// Byte `i` (from 20 on) of frame `seq`.
fn byte(seq: u32, i: usize) -> u8 {
    (seq as usize).wrapping_mul(31).wrapping_add(i * 7) as u8
}

/// Frame `seq` from `src` to `dst`, tagged with `tag` (which direction or test sent it).
pub fn build(seq: u32, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; len_of(seq)];
    fill(&mut f, seq, tag, dst, src);
    f
}

/// Writes frame `seq` into `out` (which must be `len_of(seq)` bytes).
pub fn fill(out: &mut [u8], seq: u32, tag: u8, dst: [u8; 6], src: [u8; 6]) {
    out[..6].copy_from_slice(&dst);
    out[6..12].copy_from_slice(&src);
    out[12..14].copy_from_slice(&ETHERTYPE);
    out[14..18].copy_from_slice(&seq.to_be_bytes());
    out[18] = tag;
    out[19] = !tag;
    for (i, b) in out.iter_mut().enumerate().skip(20) {
        *b = byte(seq, i);
    }
}

/// The sequence number of a test frame, or None if `f` is not one.
pub fn seq_of(f: &[u8]) -> Option<u32> {
    (f.len() >= 20 && f[12..14] == ETHERTYPE).then(|| u32::from_be_bytes([f[14], f[15], f[16], f[17]]))
}

/// The tag of a test frame, or None if `f` is not one.
pub fn tag_of(f: &[u8]) -> Option<u8> {
    seq_of(f).map(|_| f[18])
}

/// Checks `f` against frame `seq` with `tag` from `src` to `dst`; the first difference.
pub fn check(f: &[u8], seq: u32, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Result<(), String> {
    let want = build(seq, tag, dst, src);
    if f.len() != want.len() {
        return Err(format!("frame {seq}: {} bytes, expected {}", f.len(), want.len()));
    }
    match f.iter().zip(&want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!("frame {seq}: byte {i} is {:#04x}, expected {:#04x}", f[i], want[i])),
    }
}

/// The checksum of IPv4 header `h` (with its checksum field zero, the value to put there;
/// over a header with its checksum filled in, 0).
pub fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s.split(':').filter_map(|p| u8::from_str_radix(p, 16).ok()).collect();
    v.try_into().ok()
}

/// Formats a MAC address.
pub fn mac_str(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The length of jumbo test frame `seq` for frames of at most `max_len` bytes: every
/// seventh frame is exactly `max_len`, the others spread over 60..=`max_len` (so most span
/// several 2 KiB receive buffers).
pub fn jumbo_len_of(seq: u32, max_len: usize) -> usize {
    if seq.is_multiple_of(7) {
        return max_len;
    }
    MIN_LEN + (seq as usize * 2389) % (max_len - MIN_LEN + 1)
}

/// Jumbo test frame `seq` (of [`jumbo_len_of`] bytes) from `src` to `dst`, tagged `tag`.
pub fn build_jumbo(seq: u32, max_len: usize, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; jumbo_len_of(seq, max_len)];
    fill(&mut f, seq, tag, dst, src);
    f
}

/// Checks `f` against jumbo frame `seq` (see [`check`]).
pub fn check_jumbo(f: &[u8], seq: u32, max_len: usize, tag: u8, dst: [u8; 6], src: [u8; 6]) -> Result<(), String> {
    let want = build_jumbo(seq, max_len, tag, dst, src);
    if f.len() != want.len() {
        return Err(format!("jumbo frame {seq}: {} bytes, expected {}", f.len(), want.len()));
    }
    match f.iter().zip(&want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!("jumbo frame {seq}: byte {i} is {:#04x}, expected {:#04x}", f[i], want[i])),
    }
}
