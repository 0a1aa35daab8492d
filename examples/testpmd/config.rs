//! testpmd's application arguments (those after `--`).

use examples_common::args::{app_cli, unknown, Arg};

/// How packets are forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FwdMode {
    /// Received packets go out unchanged on the peer port.
    Io,
    /// As io, with the source MAC set to the TX port's and the destination to the peer's.
    Mac,
    /// As io, with source and destination MACs swapped.
    MacSwap,
    /// Received packets are freed.
    RxOnly,
    /// Generated packets are sent; nothing is received.
    TxOnly,
    /// As io, with the IP/TCP/UDP checksums set (in software or by the TX port) and the
    /// RX checksum flags counted (`csum set`, `tso set`).
    Csum,
}

impl FwdMode {
    /// Parses a mode name.
    pub fn parse(s: &str) -> Option<FwdMode> {
        Some(match s {
            "io" => FwdMode::Io,
            "mac" => FwdMode::Mac,
            "macswap" => FwdMode::MacSwap,
            "rxonly" => FwdMode::RxOnly,
            "txonly" => FwdMode::TxOnly,
            "csum" => FwdMode::Csum,
            _ => return None,
        })
    }
    /// The mode's name.
    pub fn name(self) -> &'static str {
        match self {
            FwdMode::Io => "io",
            FwdMode::Mac => "mac",
            FwdMode::MacSwap => "macswap",
            FwdMode::RxOnly => "rxonly",
            FwdMode::TxOnly => "txonly",
            FwdMode::Csum => "csum",
        }
    }
}

/// testpmd's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Forwarding mode.
    pub mode: FwdMode,
    /// Forwarding lcores to use (at most the worker lcores).
    pub nb_cores: usize,
    /// RX queues per port.
    pub rxq: u16,
    /// TX queues per port.
    pub txq: u16,
    /// Descriptors per RX queue.
    pub rxd: u16,
    /// Descriptors per TX queue.
    pub txd: u16,
    /// Packets per burst.
    pub burst: usize,
    /// Seconds between statistics displays (0: none).
    pub stats_period: u64,
    /// Start forwarding at once (implied without `-i`).
    pub auto_start: bool,
    /// Interactive command line.
    pub interactive: bool,
    /// Send a burst on every port before forwarding.
    pub tx_first: bool,
    /// Mbufs in the pool (0: computed).
    pub total_mbufs: u32,
    /// Packet size for txonly.
    pub txpkts: u16,
    /// The segment lengths of a txonly packet (`--txpkts=A,B,...`; one entry: one segment).
    pub tx_segs: Vec<u16>,
    /// Longest frame to receive (`--max-pkt-len`, with FCS, as DPDK counts it); each port's
    /// MTU is this less the port's overhead (`max_rx_pktlen - max_mtu`). 0: MTU 1500.
    pub max_pkt_len: u32,
    /// Data room of the pool's mbufs, headroom included (`--mbuf-size`, default 2176).
    pub mbuf_size: u16,
    /// Stop after this many seconds (0: run until Ctrl-C or Enter).
    pub duration: u64,
    /// RSS hash types (`ethdev::rss::hash` bits) used when there are several RX queues;
    /// as DPDK's testpmd, IP addresses unless `--rss-udp` asks for UDP ports too.
    pub rss_hf: u64,
    /// Skip the wait for every port's link to come up after start (`--disable-link-check`).
    pub disable_link_check: bool,
    /// Retry a partly sent burst (`set fwd io retry`), and how.
    pub tx_retry: TxRetry,
    /// RX offloads every port is configured with (`--rx-offloads`, `--enable-rx-cksum`),
    /// as far as the device has them.
    pub rx_offloads: ethdev::RxOffloads,
    /// TX offloads every port is configured with (`--tx-offloads`), as far as the device
    /// has them.
    pub tx_offloads: ethdev::TxOffloads,
}

/// testpmd's burst-retry settings: when a TX queue takes only part of a burst, try the rest
/// again up to `retries` times, `delay_us` microseconds apart, before dropping it (DPDK's
/// defaults: 64 retries, 1 µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxRetry {
    /// Retrying is on (`set fwd MODE retry`).
    pub enabled: bool,
    /// Tries after the first (`set burst tx delay D retry N`).
    pub retries: u32,
    /// Pause between tries, microseconds.
    pub delay_us: u32,
}

impl Default for TxRetry {
    fn default() -> TxRetry {
        TxRetry { enabled: false, retries: 64, delay_us: 1 }
    }
}

/// testpmd's usage text.
pub const USAGE: &str = "Usage: testpmd [EAL options] -- [options]\n\
  --forward-mode=MODE   io | mac | macswap | rxonly | txonly | csum (default io)\n\
  --nb-cores=N          forwarding lcores (default: all worker lcores)\n\
  --rxq=N --txq=N       queues per port (default 1)\n\
  --rxd=N --txd=N       descriptors per queue (default 512)\n\
  --burst=N             packets per burst, 1..=512 (default 32)\n\
  --stats-period=N      print port statistics every N seconds\n\
  -a, --auto-start      start forwarding at once in interactive mode\n\
  -i, --interactive     interactive prompt (start, stop, show port stats all, ...)\n\
  --tx-first            send one burst on every port first (loops on ring ports)\n\
  --total-num-mbufs=N   mbufs in the pool\n\
  --txpkts=N[,N...]     packet size in txonly mode (default 64); several: one mbuf per segment\n\
  --max-pkt-len=N       longest RX frame (with FCS): the MTU is N less the port's overhead\n\
  --mbuf-size=N         data room of each mbuf, headroom included (default 2176)\n\
  --enable-scatter      accepted: every port that can scatter RX does (chained mbufs)\n\
  --duration=N          stop after N seconds\n\
  --rss-ip              with several RX queues, hash IP addresses (the default)\n\
  --rss-udp             with several RX queues, hash IP addresses and UDP ports\n\
  --no-lsc-interrupt    accepted for DPDK compatibility\n\
  --disable-link-check  do not wait (up to 9 s) for every link to come up at start\n\
  --rx-offloads=0xN     RX offloads (DPDK's RTE_ETH_RX_OFFLOAD_* bits) for every port\n\
  --tx-offloads=0xN     TX offloads (DPDK's RTE_ETH_TX_OFFLOAD_* bits) for every port\n\
  --enable-rx-cksum     RX IPv4/TCP/UDP checksum offloads (those the port has)\n\
Every port is put in promiscuous mode at start, as DPDK's testpmd does\n\
(`set promisc all off` turns it off).\n";

/// A hexadecimal offload mask (`0x2e`, `2e`).
fn offload_bits(opt: &str, v: &str) -> Result<u64, String> {
    let h = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")).unwrap_or(v);
    u64::from_str_radix(h, 16).map_err(|_| format!("invalid value '{v}' for {opt}: expected a hexadecimal mask"))
}

impl Config {
    /// Parses the arguments after `--` (`argv[0]` first).
    pub fn parse(args: &[String]) -> Result<Config, String> {
        let mut c = Config {
            mode: FwdMode::Io,
            nb_cores: 0,
            rxq: 1,
            txq: 1,
            rxd: 512,
            txd: 512,
            burst: 32,
            stats_period: 0,
            auto_start: false,
            interactive: false,
            tx_first: false,
            total_mbufs: 0,
            txpkts: 64,
            tx_segs: vec![64],
            max_pkt_len: 0,
            mbuf_size: eal::mbuf::DEFAULT_BUF_SIZE,
            duration: 0,
            rss_hf: ethdev::rss::hash::IPV4 | ethdev::rss::hash::IPV6,
            disable_link_check: false,
            tx_retry: TxRetry::default(),
            rx_offloads: ethdev::RxOffloads::empty(),
            tx_offloads: ethdev::TxOffloads::empty(),
        };
        // `--rxq=2` and `--rxq 2`, `-i -a` and `-ia`, as DPDK's getopt_long reads them.
        let mut cli = app_cli(args);
        while let Some(arg) = cli.next_arg()? {
            match arg {
                Arg::Long("forward-mode") => {
                    let v = cli.value("--forward-mode")?;
                    c.mode = FwdMode::parse(&v).ok_or_else(|| {
                        format!("invalid --forward-mode '{v}': io, mac, macswap, rxonly, txonly or csum")
                    })?;
                }
                Arg::Long("nb-cores") => c.nb_cores = cli.number("--nb-cores")?,
                Arg::Long("rxq") => c.rxq = cli.number("--rxq")?,
                Arg::Long("txq") => c.txq = cli.number("--txq")?,
                Arg::Long("rxd") => c.rxd = cli.number("--rxd")?,
                Arg::Long("txd") => c.txd = cli.number("--txd")?,
                Arg::Long("burst") => c.burst = cli.number("--burst")?,
                Arg::Long("stats-period") => c.stats_period = cli.number("--stats-period")?,
                Arg::Short('a') | Arg::Long("auto-start") => c.auto_start = true,
                Arg::Short('i') | Arg::Long("interactive") => c.interactive = true,
                Arg::Long("tx-first") => c.tx_first = true,
                Arg::Long("total-num-mbufs") => c.total_mbufs = cli.number("--total-num-mbufs")?,
                Arg::Long("txpkts") => c.tx_segs = parse_segments(&cli.value("--txpkts")?)?,
                Arg::Long("max-pkt-len") => c.max_pkt_len = cli.number("--max-pkt-len")?,
                Arg::Long("mbuf-size") => c.mbuf_size = cli.number("--mbuf-size")?,
                Arg::Long("enable-scatter") => {}
                Arg::Long("duration") => c.duration = cli.number("--duration")?,
                Arg::Long("rss-ip") => c.rss_hf = ethdev::rss::hash::IPV4 | ethdev::rss::hash::IPV6,
                Arg::Long("rss-udp") => c.rss_hf = ethdev::rss::hash::UDP_IPV4 | ethdev::rss::hash::UDP_IPV6,
                Arg::Long("no-lsc-interrupt") => {}
                Arg::Long("disable-link-check") => c.disable_link_check = true,
                Arg::Long("rx-offloads") => {
                    let v = cli.value("--rx-offloads")?;
                    let bits = offload_bits("--rx-offloads", &v)?;
                    c.rx_offloads = ethdev::RxOffloads::from_bits(bits).ok_or_else(|| {
                        format!("--rx-offloads={v}: unknown bits {:#x}", bits & !ethdev::RxOffloads::all().bits())
                    })?;
                }
                Arg::Long("tx-offloads") => {
                    let v = cli.value("--tx-offloads")?;
                    let bits = offload_bits("--tx-offloads", &v)?;
                    c.tx_offloads = ethdev::TxOffloads::from_bits(bits).ok_or_else(|| {
                        format!("--tx-offloads={v}: unknown bits {:#x}", bits & !ethdev::TxOffloads::all().bits())
                    })?;
                }
                Arg::Long("enable-rx-cksum") => {
                    use ethdev::RxOffloads as R;
                    c.rx_offloads |= R::IPV4_CKSUM | R::TCP_CKSUM | R::UDP_CKSUM;
                }
                Arg::Short('h') | Arg::Long("help") => return Err(String::new()),
                other => return Err(unknown(other)),
            }
        }
        if c.burst == 0 || c.burst > 512 {
            return Err(format!("--burst={}: must be 1..=512", c.burst));
        }
        if c.rxq == 0 || c.txq == 0 {
            return Err("--rxq and --txq must be at least 1".into());
        }
        let total: u32 = c.tx_segs.iter().map(|&s| u32::from(s)).sum();
        if !(60..=9000).contains(&total) {
            return Err(format!("--txpkts: {total} bytes in all: must be 60..=9000"));
        }
        c.txpkts = total as u16;
        let room = c.mbuf_size.saturating_sub(eal::mbuf::HEADROOM);
        if c.mbuf_size <= eal::mbuf::HEADROOM + 64 {
            return Err(format!(
                "--mbuf-size={}: must be more than {} (the {}-byte headroom plus a 64-byte frame)",
                c.mbuf_size,
                eal::mbuf::HEADROOM + 64,
                eal::mbuf::HEADROOM
            ));
        }
        if let Some(&s) = c.tx_segs.iter().find(|&&s| s > room) {
            return Err(format!(
                "--txpkts: a {s}-byte segment does not fit an mbuf of --mbuf-size={} ({room} bytes after the headroom)",
                c.mbuf_size
            ));
        }
        if c.max_pkt_len != 0 && c.max_pkt_len < 64 {
            return Err(format!("--max-pkt-len={}: must be at least 64 (the shortest Ethernet frame)", c.max_pkt_len));
        }
        Ok(c)
    }
}

/// `--txpkts` as DPDK spells it: segment lengths separated by commas, at most 16.
fn parse_segments(v: &str) -> Result<Vec<u16>, String> {
    let segs: Vec<u16> =
        v.split(',')
            .map(|s| s.trim().parse::<u16>().ok().filter(|&n| n > 0))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("invalid --txpkts '{v}': segment lengths (1..=65535) separated by commas"))?;
    if segs.len() > 16 {
        return Err(format!("--txpkts '{v}': at most 16 segments"));
    }
    Ok(segs)
}

impl Config {
    /// The MTU of a port whose overhead (frame bytes beyond the MTU, FCS included: DPDK's
    /// `max_rx_pktlen - max_mtu`) is `overhead`: from `--max-pkt-len`, else None (keep 1500).
    pub fn mtu_for(&self, overhead: u32, max_mtu: u16) -> Result<Option<u16>, String> {
        if self.max_pkt_len == 0 {
            return Ok(None);
        }
        let mtu = self.max_pkt_len.saturating_sub(overhead);
        if mtu < 68 || mtu > u32::from(max_mtu) {
            return Err(format!(
                "--max-pkt-len={} gives MTU {mtu}: the port takes MTU 68..={max_mtu} (max-pkt-len {}..={})",
                self.max_pkt_len,
                68 + overhead,
                u32::from(max_mtu) + overhead
            ));
        }
        Ok(Some(mtu as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ethdev::rss::hash;

    fn parse(a: &[&str]) -> Result<Config, String> {
        let v: Vec<String> = std::iter::once("testpmd").chain(a.iter().copied()).map(String::from).collect();
        Config::parse(&v)
    }

    #[test]
    fn jumbo_options_are_dpdks() {
        let c = parse(&["--max-pkt-len=9022", "--mbuf-size", "9344", "--txpkts=64,64", "--enable-scatter"]).unwrap();
        assert_eq!((c.max_pkt_len, c.mbuf_size, c.txpkts, c.tx_segs.clone()), (9022, 9344, 128, vec![64, 64]));
        assert_eq!(c.mtu_for(22, 9000), Ok(Some(9000)));
        let e = c.mtu_for(22, 1500).unwrap_err();
        assert!(e.contains("MTU 9000") && e.contains("68..=1500") && e.contains("90..=1522"), "{e}");
        assert_eq!(parse(&[]).unwrap().mtu_for(22, 1500), Ok(None), "no --max-pkt-len: the port's MTU");
        let e = |a: &[&str]| parse(a).unwrap_err();
        assert!(e(&["--mbuf-size=100"]).contains("must be more than 192"));
        assert!(e(&["--txpkts=64,3000"]).contains("does not fit an mbuf of --mbuf-size=2176 (2048 bytes"));
        assert!(e(&["--txpkts=64,,1"]).contains("invalid --txpkts"));
        assert!(e(&["--max-pkt-len=10"]).contains("at least 64"));
        assert!(e(&["--mbuf-size=70000"]).contains("expected a number"), "{}", e(&["--mbuf-size=70000"]));
    }

    #[test]
    fn rss_flags_choose_the_hash_types() {
        assert_eq!(parse(&[]).unwrap().rss_hf, hash::IPV4 | hash::IPV6, "DPDK's default: IP addresses");
        assert_eq!(parse(&["--rss-udp"]).unwrap().rss_hf, hash::UDP_IPV4 | hash::UDP_IPV6);
        assert_eq!(parse(&["--rss-udp", "--rss-ip"]).unwrap().rss_hf, hash::IPV4 | hash::IPV6, "the last wins");
        assert!(parse(&["--rxq=0"]).is_err());
    }

    #[test]
    fn dpdk_spellings() {
        for a in [&["--rxq=2", "--txq=2"][..], &["--rxq", "2", "--txq", "2"], &["--rxq=0x2", "--txq", "2"]] {
            let c = parse(a).unwrap();
            assert_eq!((c.rxq, c.txq), (2, 2), "{a:?}");
        }
        let c = parse(&["-ia", "--forward-mode", "macswap", "--burst=64", "--nb-cores", "1"]).unwrap();
        assert!(c.interactive && c.auto_start, "clustered -ia");
        assert!(!c.disable_link_check && parse(&["--disable-link-check"]).unwrap().disable_link_check);
        assert_eq!(c.tx_retry, TxRetry { enabled: false, retries: 64, delay_us: 1 }, "DPDK's retry defaults");
        assert_eq!((c.mode, c.burst, c.nb_cores), (FwdMode::MacSwap, 64, 1));
        assert_eq!(parse(&["-i", "-a"]).map(|c| (c.interactive, c.auto_start)), Ok((true, true)));
    }

    #[test]
    fn offload_options_take_dpdks_bits() {
        use ethdev::{RxOffloads as R, TxOffloads as T};
        let c = parse(&["--tx-offloads=0x2c", "--enable-rx-cksum", "--forward-mode=csum"]).unwrap();
        assert_eq!(c.tx_offloads, T::TCP_CKSUM | T::UDP_CKSUM | T::TCP_TSO);
        assert_eq!(c.rx_offloads, R::IPV4_CKSUM | R::TCP_CKSUM | R::UDP_CKSUM);
        assert_eq!(c.mode, FwdMode::Csum);
        assert!(parse(&["--tx-offloads=0x40000000"]).unwrap_err().contains("unknown bits 0x40000000"));
        assert!(parse(&["--rx-offloads=zz"]).unwrap_err().contains("expected a hexadecimal mask"));
    }

    #[test]
    fn bad_values_are_explained() {
        let e = |a: &[&str]| parse(a).unwrap_err();
        assert_eq!(e(&["--rxq=many"]), "invalid value 'many' for --rxq: expected a number");
        assert_eq!(e(&["--rxd", "70000"]), "invalid value '70000' for --rxd: expected a number");
        assert_eq!(e(&["--burst"]), "option '--burst' needs a value");
        assert_eq!(e(&["--burst=0"]), "--burst=0: must be 1..=512");
        assert!(e(&["--forward-mode=bogus"]).contains("invalid --forward-mode 'bogus'"));
        assert_eq!(e(&["--frobnicate"]), "unknown option '--frobnicate'");
        assert!(e(&["--tx-first=1"]).contains("option '--tx-first' takes no value"));
        assert_eq!(e(&["-h"]), "", "help is asked for with an empty message");
    }
}
