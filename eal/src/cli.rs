//! One way to read command lines, shared by the EAL, the samples and the tools, on `lexopt`.
//!
//! Every spelling DPDK's getopt accepts works: `-p3` and `-p 3`, `-p=3`, `--portmask=3` and
//! `--portmask 3`, clustered flags (`-ia`), and `--` to end the options. Errors are one line
//! that names the option and what is wrong; callers add their usage text.
//!
//! ```
//! use eal::cli::{Arg, Cli};
//! let mut cli = Cli::new(["-p3", "--stats-period=2", "-v"]);
//! let (mut mask, mut period, mut verbose) = (0, 0, false);
//! while let Some(arg) = cli.next_arg().unwrap() {
//!     match arg {
//!         Arg::Short('p') | Arg::Long("portmask") => mask = cli.number::<u64>("-p").unwrap(),
//!         Arg::Long("stats-period") => period = cli.number::<u64>("--stats-period").unwrap(),
//!         Arg::Short('v') => verbose = true,
//!         other => panic!("{}", eal::cli::unknown(other)),
//!     }
//! }
//! assert_eq!((mask, period, verbose), (3, 2, true));
//! ```

use std::ffi::OsString;
use std::str::FromStr;

pub use lexopt::Arg;

/// A command line being read, option by option.
pub struct Cli {
    parser: lexopt::Parser,
}

impl Cli {
    /// Reads `args`, which do not include the program name.
    pub fn new<I, S>(args: I) -> Cli
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Cli { parser: lexopt::Parser::from_args(args) }
    }

    /// The next option or free-standing argument ([`Arg::Value`]), `None` at the end.
    /// After `--` every argument is an [`Arg::Value`]. A flag given a value
    /// (`--no-pci=1`) is an error here: "option '--no-pci' takes no value".
    pub fn next_arg(&mut self) -> Result<Option<Arg<'_>>, String> {
        self.parser.next().map_err(message)
    }

    /// If the next argument is `--` (and no option's value is pending), consumes it and
    /// returns every argument after it, as given: for `EAL options -- application options`.
    pub fn rest_after_double_dash(&mut self) -> Option<Vec<String>> {
        let mut raw = self.parser.try_raw_args()?;
        raw.next_if(|a| a == "--")?;
        Some(raw.map(|a| a.to_string_lossy().into_owned()).collect())
    }

    /// The value of the option just read, attached (`-p3`, `-p=3`, `--portmask=3`) or the
    /// next argument (`-p 3`, `--portmask 3`), even if it starts with `-`. `opt` names the
    /// option in the error: "option '-p' needs a value".
    pub fn value(&mut self, opt: &str) -> Result<String, String> {
        match self.parser.value() {
            Ok(v) => v.into_string().map_err(|v| format!("the value {v:?} of option '{opt}' is not valid UTF-8")),
            Err(_) => Err(format!("option '{opt}' needs a value")),
        }
    }

    /// A value attached to the option just read (`--huge-unlink=existing`), if any; the next
    /// argument is never taken.
    pub fn attached_value(&mut self) -> Option<String> {
        self.parser.optional_value().map(|v| v.to_string_lossy().into_owned())
    }

    /// The value of the option just read as a number of type `T` (decimal; `0x` for
    /// hexadecimal where `T` is an integer): "invalid value 'x' for -q: expected a number".
    pub fn number<T: FromStr>(&mut self, opt: &str) -> Result<T, String> {
        let v = self.value(opt)?;
        parse_number(opt, &v)
    }
}

/// Parses `v`, the value of option `opt`, as a `T`; the error names both.
pub fn parse_number<T: FromStr>(opt: &str, v: &str) -> Result<T, String> {
    let t = v.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        // Integers in hexadecimal: parse as u128, then convert through the decimal text.
        Some(h) => u128::from_str_radix(h, 16).ok().and_then(|n| n.to_string().parse().ok()),
        None => t.parse().ok(),
    };
    parsed.ok_or_else(|| format!("invalid value '{v}' for {opt}: expected a number"))
}

/// How an argument was spelled, for messages: `-p`, `--portmask`, or the value itself.
pub fn name(arg: &Arg<'_>) -> String {
    match arg {
        Arg::Short(c) => format!("-{c}"),
        Arg::Long(l) => format!("--{l}"),
        Arg::Value(v) => v.to_string_lossy().into_owned(),
    }
}

/// The message for an argument the program does not take: "unknown option '-x'" or
/// "unexpected argument 'x'".
pub fn unknown(arg: Arg<'_>) -> String {
    match arg {
        Arg::Value(v) => format!("unexpected argument '{}'", v.to_string_lossy()),
        opt => format!("unknown option '{}'", name(&opt)),
    }
}

/// One line for a `lexopt` error, in the words the other messages use.
fn message(e: lexopt::Error) -> String {
    use lexopt::Error as E;
    match e {
        E::MissingValue { option: Some(o) } => format!("option '{o}' needs a value"),
        E::MissingValue { option: None } => "an option needs a value".to_string(),
        E::UnexpectedOption(o) => format!("unknown option '{o}'"),
        E::UnexpectedArgument(v) => format!("unexpected argument '{}'", v.to_string_lossy()),
        E::UnexpectedValue { option, value } => {
            format!("option '{option}' takes no value (got '{}'): give it alone", value.to_string_lossy())
        }
        E::NonUnicodeValue(v) => format!("argument {v:?} is not valid UTF-8"),
        E::ParsingFailed { value, error } => format!("invalid value '{value}': {error}"),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `-p`/`--portmask` and `-q`, and flags `-i`, `-a`, `--tx-first`.
    type Read = (Option<u64>, Option<u32>, Vec<char>, Vec<String>);

    fn read(args: &[&str]) -> Result<Read, String> {
        let mut cli = Cli::new(args.iter().copied());
        let (mut p, mut q, mut flags, mut rest) = (None, None, Vec::new(), Vec::new());
        loop {
            if let Some(r) = cli.rest_after_double_dash() {
                rest = r;
                break;
            }
            let Some(arg) = cli.next_arg()? else { break };
            match arg {
                Arg::Short('p') | Arg::Long("portmask") => p = Some(cli.number("-p")?),
                Arg::Short('q') => q = Some(cli.number("-q")?),
                Arg::Short(c @ ('i' | 'a')) => flags.push(c),
                Arg::Long("tx-first") => flags.push('t'),
                other => return Err(unknown(other)),
            }
        }
        Ok((p, q, flags, rest))
    }

    #[test]
    fn dpdk_spellings() {
        for args in [&["-p3"][..], &["-p", "3"], &["-p=3"], &["--portmask=3"], &["--portmask", "3"], &["-p0x3"]] {
            assert_eq!(read(args).unwrap().0, Some(3), "{args:?}");
        }
        assert_eq!(read(&["-q", "2"]).unwrap().1, Some(2));
        assert_eq!(read(&["-q2"]).unwrap().1, Some(2));
        assert_eq!(read(&["-ia"]).unwrap().2, vec!['i', 'a'], "clustered flags");
        assert_eq!(read(&["-iq2"]).unwrap(), (None, Some(2), vec!['i'], vec![]), "flag then option with value");
        let (_, _, _, rest) = read(&["-i", "--", "-p", "x"]).unwrap();
        assert_eq!(rest, vec!["-p", "x"]);
    }

    #[test]
    fn errors_name_the_option() {
        let e = |a: &[&str]| read(a).unwrap_err();
        assert_eq!(e(&["-p"]), "option '-p' needs a value");
        assert_eq!(e(&["-q", "many"]), "invalid value 'many' for -q: expected a number");
        assert_eq!(e(&["-x"]), "unknown option '-x'");
        assert_eq!(e(&["--bogus=1"]), "unknown option '--bogus'");
        assert_eq!(e(&["stray"]), "unexpected argument 'stray'");
        assert!(e(&["--tx-first=yes"]).contains("option '--tx-first' takes no value"), "{}", e(&["--tx-first=yes"]));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number::<u16>("-n", "0x10"), Ok(16));
        assert_eq!(parse_number::<u16>("-n", "70000"), Err("invalid value '70000' for -n: expected a number".into()));
        assert!(parse_number::<u64>("-n", "-1").is_err());
    }
}
