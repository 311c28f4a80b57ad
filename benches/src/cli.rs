//! Command-line arguments.

use regex::Regex;
use std::path::PathBuf;

/// What to run, from the command line.
#[derive(Debug)]
pub struct Args {
    /// The PKCS#11 modules to compare, in the order given; ratios are the first over each other.
    pub modules: Vec<PathBuf>,
    /// Measured time of one workload on one module in one round.
    pub seconds: f64,
    /// Rounds; each reported number is the median over them.
    pub rounds: usize,
    /// Only the workloads whose name matches.
    pub only: Option<Regex>,
    /// Print the result as a Markdown table.
    pub markdown: bool,
    /// Also search among 10,000 token objects (a second phase, after the rest).
    pub find_10k: bool,
}

/// The usage text.
pub const USAGE: &str = "\
usage: pkcs11-bench --module PATH [--module PATH2 ...] [--seconds S] [--rounds N]
                    [--only REGEX] [--markdown] [--short] [--find-10k]

  --module PATH   a PKCS#11 module to load (repeat to compare; ratios are the
                  first module over each other one)
  --seconds S     measured seconds per workload, module and round (default 0.6)
  --rounds N      rounds; each number is the median over them (default 5)
  --only REGEX    only the workloads whose name matches
  --markdown      print the result as a Markdown table
  --short         0.2 s per workload and 1 round: checks that every workload runs
  --find-10k      also find one label among 10,000 token objects (slow to set up)

Each module gets a fresh token in a temporary directory (SOFTKMS_CONF and
SOFTHSM2_CONF point there); the bench initializes it. For another module, set
PKCS11_BENCH_PIN to the user PIN of an initialized token, or leave a token
uninitialized for the bench to initialize.";

/// Parses the arguments after the program name.
pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut modules = Vec::new();
    let mut seconds = None;
    let mut rounds = None;
    let mut only = None;
    let mut markdown = false;
    let mut short = false;
    let mut find_10k = false;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--module" => modules.push(PathBuf::from(value("--module")?)),
            "--seconds" => {
                let v = value("--seconds")?;
                let s: f64 = v.parse().map_err(|_| format!("bad --seconds {v}"))?;
                if !(s > 0.0 && s.is_finite()) {
                    return Err(format!("bad --seconds {v}"));
                }
                seconds = Some(s);
            }
            "--rounds" => {
                let v = value("--rounds")?;
                let n: usize = v.parse().map_err(|_| format!("bad --rounds {v}"))?;
                if n == 0 {
                    return Err("--rounds must be at least 1".into());
                }
                rounds = Some(n);
            }
            "--only" => {
                let v = value("--only")?;
                only = Some(Regex::new(&v).map_err(|e| format!("bad --only: {e}"))?);
            }
            "--markdown" => markdown = true,
            "--short" => short = true,
            "--find-10k" => find_10k = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if modules.is_empty() {
        return Err("at least one --module is needed".into());
    }
    let (default_seconds, default_rounds) = if short { (0.2, 1) } else { (0.6, 5) };
    Ok(Args {
        modules,
        seconds: seconds.unwrap_or(default_seconds),
        rounds: rounds.unwrap_or(default_rounds),
        only,
        markdown,
        find_10k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn defaults_and_short() {
        let a = args("--module a.so --module b.so").unwrap();
        assert_eq!(a.modules.len(), 2);
        assert_eq!((a.seconds, a.rounds), (0.6, 5));
        let a = args("--module a.so --short").unwrap();
        assert_eq!((a.seconds, a.rounds), (0.2, 1));
        let a = args("--short --rounds 3 --module a.so").unwrap();
        assert_eq!(a.rounds, 3);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(args("").is_err());
        assert!(args("--module a.so --seconds 0").is_err());
        assert!(args("--module a.so --rounds x").is_err());
        assert!(args("--module a.so --only (").is_err());
        assert!(args("--module a.so --what").is_err());
        assert!(args("--module").is_err());
    }
}
