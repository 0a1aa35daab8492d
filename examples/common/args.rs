//! The samples' application options (after `--`), read with the EAL's [`eal::cli`] so
//! that DPDK's spellings work in every sample: `-p3`, `-p 3`, `--portmask=3`, `-q 2`,
//! `--num-procs=2`. The port mask and number options are parsed here, once.

pub use eal::cli::{unknown, Arg, Cli};

/// A reader over `args`, the application arguments as [`eal::Eal::app_args`] gives them
/// (`argv[0]` first, skipped).
pub fn app_cli(args: &[String]) -> Cli {
    Cli::new(args.iter().skip(1).cloned())
}

/// Parses a hexadecimal port mask (`3`, `0x3`, `0X3`); zero is refused.
pub fn parse_portmask(s: &str) -> Result<u64, String> {
    let h = s.trim();
    let h = h.strip_prefix("0x").or_else(|| h.strip_prefix("0X")).unwrap_or(h);
    u64::from_str_radix(h, 16)
        .ok()
        .filter(|&m| m != 0)
        .ok_or_else(|| format!("invalid portmask '{s}': a non-zero hexadecimal mask such as 0x3"))
}

/// The value of the port-mask option just read (`-p3`, `-p 0x3`, `--portmask=3`).
pub fn portmask(cli: &mut Cli, opt: &str) -> Result<u64, String> {
    parse_portmask(&cli.value(opt)?)
}

/// The value of the option just read as a number of at least 1 (`-q 2`, `-q2`,
/// `--num-procs=2`): "invalid value '0' for -q: expected a number of at least 1".
pub fn positive<T: std::str::FromStr + PartialOrd + From<u8>>(cli: &mut Cli, opt: &str) -> Result<T, String> {
    let v = cli.value(opt)?;
    eal::cli::parse_number::<T>(opt, &v)
        .ok()
        .filter(|n| *n >= T::from(1))
        .ok_or_else(|| format!("invalid value '{v}' for {opt}: expected a number of at least 1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        std::iter::once("app").chain(a.iter().copied()).map(String::from).collect()
    }

    /// `-p`/`--portmask` and `-q` as the samples read them.
    fn read(a: &[&str]) -> Result<(u64, usize), String> {
        let mut cli = app_cli(&argv(a));
        let (mut p, mut q) = (0, 1);
        while let Some(arg) = cli.next_arg()? {
            match arg {
                Arg::Short('p') | Arg::Long("portmask") => p = portmask(&mut cli, "-p")?,
                Arg::Short('q') => q = positive(&mut cli, "-q")?,
                other => return Err(unknown(other)),
            }
        }
        Ok((p, q))
    }

    #[test]
    fn portmask_and_queue_spellings() {
        for a in [&["-p3"][..], &["-p", "3"], &["-p0x3"], &["-p", "0X3"], &["--portmask=3"], &["--portmask", "3"]] {
            assert_eq!(read(a).unwrap().0, 3, "{a:?}");
        }
        assert_eq!(read(&["-q", "2"]).unwrap().1, 2);
        assert_eq!(read(&["-q2", "-p3"]).unwrap(), (3, 2));
    }

    #[test]
    fn bad_values_are_named() {
        let e = |a: &[&str]| read(a).unwrap_err();
        assert!(e(&["-p0"]).contains("invalid portmask '0'"), "{}", e(&["-p0"]));
        assert!(e(&["-p", "zz"]).contains("non-zero hexadecimal mask such as 0x3"));
        assert_eq!(e(&["-p"]), "option '-p' needs a value");
        assert_eq!(e(&["-q", "0"]), "invalid value '0' for -q: expected a number of at least 1");
        assert_eq!(e(&["-qx"]), "invalid value 'x' for -q: expected a number of at least 1");
        assert_eq!(e(&["-z"]), "unknown option '-z'");
    }
}
