//! The TAP driver's syscall wrapper for the TUN device and interface ioctls: opening a
//! queue of `/dev/net/tun` (`TUNSETIFF`, `IFF_TAP | IFF_NO_PI`, non-blocking), attaching or
//! detaching a queue (`TUNSETQUEUE`), and the `SIOC*IF*` requests on an interface by name.
//! Requests are plain byte arrays encoded and decoded in safe code; only the `ioctl` calls
//! are unsafe.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;

/// Where the TUN clone device lives.
pub const TUN_PATH: &str = "/dev/net/tun";
/// Longest interface name (IFNAMSIZ less the NUL).
pub const MAX_IFNAME: usize = libc::IFNAMSIZ - 1;

/// `struct ifreq`: the name, then a 24-byte union (flags, index, MTU or a sockaddr).
#[repr(C)]
#[derive(Clone, Copy)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: [u8; 24],
}
const _: () = assert!(std::mem::size_of::<IfReq>() == 40);

impl IfReq {
    fn new(name: &str) -> io::Result<IfReq> {
        check_name(name)?;
        let mut r = IfReq { name: [0; libc::IFNAMSIZ], data: [0; 24] };
        r.name[..name.len()].copy_from_slice(name.as_bytes());
        Ok(r)
    }
    fn name(&self) -> String {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }
    fn short(&self) -> i16 {
        i16::from_ne_bytes([self.data[0], self.data[1]])
    }
    fn set_short(&mut self, v: i16) {
        self.data[..2].copy_from_slice(&v.to_ne_bytes());
    }
    fn int(&self) -> i32 {
        i32::from_ne_bytes([self.data[0], self.data[1], self.data[2], self.data[3]])
    }
    fn set_int(&mut self, v: i32) {
        self.data[..4].copy_from_slice(&v.to_ne_bytes());
    }
}

/// Checks an interface name: 1..=15 bytes, no '/', ':', whitespace or NUL.
pub fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_IFNAME
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b':');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{name}' is not a valid interface name (1..={MAX_IFNAME} printable bytes, no '/' or ':')"),
        ))
    }
}

fn ioctl(fd: RawFd, req: libc::Ioctl, r: &mut IfReq) -> io::Result<()> {
    // SAFETY: every request passed here reads and/or writes one `struct ifreq`; `r` is a
    // live, exclusively borrowed, correctly sized (40 bytes) and aligned ifreq, and `fd` is
    // an open descriptor owned by the caller for the duration of the call.
    let rc = unsafe { libc::ioctl(fd, req, r as *mut IfReq) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The step of opening a queue that failed (for the error message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenStep {
    /// Opening `/dev/net/tun`.
    Open,
    /// `TUNSETIFF` (creating or attaching the interface).
    SetIff,
}

/// Opens one queue of TAP interface `name` (created if missing; a `%d` in the name lets the
/// kernel pick a free number), non-blocking, frames without packet information. Returns
/// the file and the interface's actual name.
pub fn open_queue(name: &str, multi_queue: bool) -> Result<(File, String), (OpenStep, io::Error)> {
    let mut req = IfReq::new(name).map_err(|e| (OpenStep::SetIff, e))?;
    let file = File::options()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(TUN_PATH)
        .map_err(|e| (OpenStep::Open, e))?;
    let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
    if multi_queue {
        flags |= libc::IFF_MULTI_QUEUE;
    }
    req.set_short(flags as i16);
    ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req).map_err(|e| (OpenStep::SetIff, e))?;
    Ok((file, req.name()))
}

/// Attaches (`on`) or detaches a queue of a multi-queue TAP interface: the kernel only
/// steers received frames to attached queues.
pub fn set_queue_attached(queue: &File, on: bool) -> io::Result<()> {
    let mut req = IfReq { name: [0; libc::IFNAMSIZ], data: [0; 24] };
    req.set_short((if on { libc::IFF_ATTACH_QUEUE } else { libc::IFF_DETACH_QUEUE }) as i16);
    ioctl(queue.as_raw_fd(), libc::TUNSETQUEUE, &mut req)
}

/// Interface requests by name (`SIOCGIFFLAGS` and friends), over a private datagram socket.
pub struct IfCtl {
    sock: UnixDatagram,
}

impl IfCtl {
    /// Opens the socket the requests go through.
    pub fn open() -> io::Result<IfCtl> {
        Ok(IfCtl { sock: UnixDatagram::unbound()? })
    }

    fn call(&self, name: &str, req: libc::Ioctl, fill: impl FnOnce(&mut IfReq)) -> io::Result<IfReq> {
        let mut r = IfReq::new(name)?;
        fill(&mut r);
        ioctl(self.sock.as_raw_fd(), req, &mut r)?;
        Ok(r)
    }

    /// The interface's index.
    pub fn ifindex(&self, name: &str) -> io::Result<i32> {
        Ok(self.call(name, libc::SIOCGIFINDEX, |_| {})?.int())
    }

    /// The interface's flags (`IFF_UP`, `IFF_RUNNING`, `IFF_PROMISC`...).
    pub fn flags(&self, name: &str) -> io::Result<u32> {
        Ok(self.call(name, libc::SIOCGIFFLAGS, |_| {})?.short() as u16 as u32)
    }

    /// Sets or clears `bits` of the interface's flags.
    pub fn update_flags(&self, name: &str, bits: u32, on: bool) -> io::Result<()> {
        let cur = self.flags(name)?;
        let new = if on { cur | bits } else { cur & !bits };
        if new != cur {
            self.call(name, libc::SIOCSIFFLAGS, |r| r.set_short(new as u16 as i16))?;
        }
        Ok(())
    }

    /// The interface's MTU.
    pub fn mtu(&self, name: &str) -> io::Result<u32> {
        Ok(self.call(name, libc::SIOCGIFMTU, |_| {})?.int().max(0) as u32)
    }

    /// Sets the interface's MTU.
    pub fn set_mtu(&self, name: &str, mtu: u32) -> io::Result<()> {
        self.call(name, libc::SIOCSIFMTU, |r| r.set_int(mtu as i32)).map(|_| ())
    }

    /// The interface's Ethernet address.
    pub fn mac(&self, name: &str) -> io::Result<[u8; 6]> {
        let r = self.call(name, libc::SIOCGIFHWADDR, |_| {})?;
        let mut m = [0u8; 6];
        m.copy_from_slice(&r.data[2..8]);
        Ok(m)
    }

    /// Sets the interface's Ethernet address.
    pub fn set_mac(&self, name: &str, mac: [u8; 6]) -> io::Result<()> {
        self.call(name, libc::SIOCSIFHWADDR, |r| {
            r.data[..2].copy_from_slice(&libc::ARPHRD_ETHER.to_ne_bytes());
            r.data[2..8].copy_from_slice(&mac);
        })
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["dtap0", "dtap%d", "a", "x23456789012345"] {
            check_name(ok).unwrap();
        }
        for bad in ["", "x234567890123456", "a/b", "a b", "eth0:1", ".", ".."] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_is_readable() {
        let c = IfCtl::open().unwrap();
        assert_eq!(c.ifindex("lo").unwrap(), 1);
        assert!(c.flags("lo").unwrap() & libc::IFF_LOOPBACK as u32 != 0);
        assert!(c.mtu("lo").unwrap() > 0);
        assert_eq!(c.ifindex("nonexistent0").unwrap_err().raw_os_error(), Some(libc::ENODEV));
    }
}
