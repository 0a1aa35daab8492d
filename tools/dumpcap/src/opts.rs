//! dumpcap's own options (after `--`), in `dpdk-dumpcap`'s spellings where it has them.

use eal::cli::{self, Arg, Cli};
use ethdev::capture::{CaptureDir, Filter, MAX_SNAPLEN, SLOTS};
use std::time::Duration;

/// The usage text of the options after `--`.
pub const USAGE: &str = concat!(
    "Usage: dumpcap [EAL options] -- [options] [capture filter]\n",
    "  -i, --interface PORT     port id or name to capture (repeat for more; default: port 0)\n",
    "  -D, --list-interfaces    list the group's ports and exit\n",
    "  -c, --packet-count N     stop after N frames\n",
    "  -a, --autostop COND      stop on duration:SECONDS or packets:N\n",
    "  -w, --file FILE          write to FILE ('-' for standard output;\n",
    "                           default $TMPDIR/bypass-dumpcap_<pid>.pcapng)\n",
    "  -s, --snapshot-length N  keep at most N bytes of each frame (1..=65535; default: whole\n",
    "                           frames, the captured ports' largest MTU plus headers)\n",
    "  -f FILTER                capture filter: host A.B.C.D, port N, src/dst, ip, ip6, arp,\n",
    "                           tcp, udp, icmp, icmp6, and/or/not, parentheses\n",
    "      --direction DIR      rx, tx or both (default both)\n",
    "      --queue Q            capture queue Q only (repeat for more; default every queue)\n",
    "      --ring-size N        capture ring slots, a power of two up to 2048 (default 2048)\n",
    "  -q, --quiet              no progress on standard error\n",
);

/// Parsed options.
#[derive(Debug)]
pub struct Opts {
    /// Ports by id or name, as given.
    pub interfaces: Vec<String>,
    /// `-D`.
    pub list: bool,
    /// Stop after this many frames.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Output path, `-` for stdout, `None` for the default.
    pub file: Option<String>,
    /// Snap length; `None`: whole frames (see `whole_frames` in main).
    pub snaplen: Option<u32>,
    /// The filter.
    pub filter: Filter,
    /// The filter's text.
    pub filter_text: String,
    /// Directions.
    pub dir: CaptureDir,
    /// Queue mask.
    pub queue_mask: u32,
    /// Ring slots.
    pub ring_size: u32,
    /// `-q`.
    pub quiet: bool,
}

/// Reads the options; `Err("")` for `--help`.
pub fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        interfaces: Vec::new(),
        list: false,
        count: None,
        duration: None,
        file: None,
        snaplen: None,
        filter: Filter::default(),
        filter_text: String::new(),
        dir: CaptureDir::all(),
        queue_mask: 0,
        ring_size: SLOTS as u32,
        quiet: false,
    };
    let mut filter_words: Vec<String> = Vec::new();
    let mut cli = Cli::new(args);
    while let Some(arg) = cli.next_arg()? {
        match arg {
            Arg::Short('i') | Arg::Long("interface") => o.interfaces.push(cli.value("-i")?),
            Arg::Short('D') | Arg::Long("list-interfaces") => o.list = true,
            Arg::Short('c') | Arg::Long("packet-count") => o.count = Some(positive(cli.number::<u64>("-c")?, "-c")?),
            Arg::Short('a') | Arg::Long("autostop") => {
                let v = cli.value("-a")?;
                match v.split_once(':') {
                    Some(("duration", s)) => {
                        let secs: f64 =
                            s.parse().ok().filter(|s: &f64| s.is_finite() && *s > 0.0).ok_or_else(|| {
                                format!("invalid -a '{v}': duration:SECONDS with a positive number of seconds")
                            })?;
                        o.duration = Some(Duration::from_secs_f64(secs.min(1e9)));
                    }
                    Some(("packets", n)) => o.count = Some(positive(cli::parse_number::<u64>("-a packets", n)?, "-a")?),
                    _ => return Err(format!("invalid -a '{v}': use duration:SECONDS or packets:N")),
                }
            }
            Arg::Short('w') | Arg::Long("file") => o.file = Some(cli.value("-w")?),
            Arg::Short('s') | Arg::Long("snapshot-length") => {
                let n: u32 = cli.number("-s")?;
                if n == 0 || n as usize > MAX_SNAPLEN {
                    return Err(format!("invalid snapshot length {n}: must be 1..={MAX_SNAPLEN}"));
                }
                o.snaplen = Some(n);
            }
            Arg::Short('f') => filter_words.push(cli.value("-f")?),
            Arg::Long("direction") => {
                o.dir = match cli.value("--direction")?.as_str() {
                    "rx" => CaptureDir::RX,
                    "tx" => CaptureDir::TX,
                    "both" => CaptureDir::all(),
                    other => return Err(format!("invalid --direction '{other}': rx, tx or both")),
                }
            }
            Arg::Long("queue") => {
                let q: u32 = cli.number("--queue")?;
                if q >= 32 {
                    return Err(format!("invalid --queue {q}: queues are 0..=31"));
                }
                o.queue_mask |= 1 << q;
            }
            Arg::Long("ring-size") => {
                let n: u32 = cli.number("--ring-size")?;
                if !n.is_power_of_two() || n as usize > SLOTS {
                    return Err(format!("invalid --ring-size {n}: a power of two up to {SLOTS}"));
                }
                o.ring_size = n;
            }
            Arg::Short('q') | Arg::Long("quiet") => o.quiet = true,
            Arg::Short('h') | Arg::Long("help") => return Err(String::new()),
            Arg::Value(v) => filter_words.push(v.to_string_lossy().into_owned()),
            other => return Err(cli::unknown(other)),
        }
    }
    if o.queue_mask == 0 {
        o.queue_mask = u32::MAX;
    }
    o.filter_text = filter_words.join(" ");
    o.filter = Filter::parse(&o.filter_text).map_err(|e| e.to_string())?;
    Ok(o)
}

fn positive(n: u64, opt: &str) -> Result<u64, String> {
    if n == 0 {
        return Err(format!("invalid {opt} 0: must be at least 1"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Opts, String> {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options() {
        let o = p(&["-i", "0", "-c", "1000", "-w", "x.pcapng", "-s", "128", "udp", "port", "53"]).unwrap();
        assert_eq!(
            (o.interfaces, o.count, o.file.as_deref(), o.snaplen),
            (vec!["0".into()], Some(1000), Some("x.pcapng"), Some(128))
        );
        assert_eq!(o.filter_text, "udp port 53");
        let o = p(&["-a", "duration:2.5", "--direction", "rx", "--queue", "1", "-f", "tcp"]).unwrap();
        assert_eq!((o.duration, o.dir, o.queue_mask), (Some(Duration::from_millis(2500)), CaptureDir::RX, 2));
        assert_eq!(p(&["-a", "packets:7"]).unwrap().count, Some(7));
        assert!(p(&["-a", "duration:0"]).unwrap_err().contains("positive number"));
        assert!(p(&["-a", "size:3"]).unwrap_err().contains("duration:SECONDS or packets:N"));
        assert_eq!(p(&["-s", "9000"]).unwrap().snaplen, Some(9000));
        assert!(p(&["-s", "70000"]).unwrap_err().contains("1..=65535"));
        assert_eq!(p(&[]).unwrap().snaplen, None, "whole frames by default");
        assert!(p(&["-c", "0"]).unwrap_err().contains("at least 1"));
        assert!(p(&["--ring-size", "100"]).unwrap_err().contains("power of two"));
        assert!(p(&["host", "1.2.3"]).unwrap_err().contains("bad host '1.2.3'"));
        assert!(p(&["--bogus"]).unwrap_err().contains("--bogus"));
    }
}
