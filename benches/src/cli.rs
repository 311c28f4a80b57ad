//! Command-line arguments.

use regex::Regex;
use std::path::{Path, PathBuf};

/// What to run, from the command line.
#[derive(Debug)]
pub struct Args {
    /// The PKCS#11 modules to compare, in the order given; ratios are the first over each other.
    pub modules: Vec<PathBuf>,
    /// Per module: the `SOFTKMS_CONF` it runs with instead of a fresh token's (`--conf`).
    pub confs: Vec<Option<PathBuf>>,
    /// Measured time of one workload on one module in one round.
    pub seconds: f64,
    /// Rounds; each reported number is the median over them.
    pub rounds: usize,
    /// Only the workloads whose name matches.
    pub only: Option<Regex>,
    /// Print the result as a Markdown table.
    pub markdown: bool,
    /// The most token objects the search and open workloads use (1,000, 10,000, 100,000).
    pub max_objects: usize,
    /// Seconds a module may spend filling its token for one object count; a count that
    /// would take longer (predicted from the creation rate so far) is skipped.
    pub fill_budget: f64,
    /// Also measure the raw backends (aws-lc-rs, RustCrypto) without PKCS#11.
    pub raw: bool,
    /// Print issue 7's targets against the first module after the table.
    pub targets: bool,
    /// Where the tokens of the search and open workloads live (a new token
    /// per module); `None` keeps them on the first token.
    pub big_dir: Option<PathBuf>,
    /// Run a workload even on a module that does not list its mechanisms; a failure
    /// there shows as not carried instead of an error.
    pub try_unlisted: bool,
    /// Show the time of one operation beside every rate.
    pub per_op: bool,
}

/// The usage text.
pub const USAGE: &str = "\
usage: pkcs11-bench --module PATH [--module PATH2 ...] [--seconds S] [--rounds N]
                    [--only REGEX] [--markdown] [--short] [--max-objects N]
                    [--fill-budget S] [--no-raw] [--targets]
                    [--conf FILE] [--try-unlisted] [--per-op]

  --module PATH   a PKCS#11 module to load (repeat to compare; ratios are the
                  first module over each other one)
  --seconds S     measured seconds per workload, module and round (default 0.6)
  --rounds N      rounds; each number is the median over them (default 5)
  --only REGEX    only the workloads whose name matches
  --markdown      print the result as a Markdown table
  --short         0.2 s per workload, 1 round, at most 1,000 token objects:
                  checks that every workload runs
  --max-objects N search among at most N token objects: 1000, 10000 or 100000
                  (default 100000; the open-a-token workload uses min(N, 10000))
  --fill-budget S seconds a module may take to fill its token up to one object
                  count (predicted from its creation rate); a count it cannot
                  reach in time shows \"n/a (setup too slow)\" (default 180)
  --no-raw        leave out the raw aws-lc-rs and RustCrypto columns
  --targets       after the table, issue 7's targets against the first module
  --big-dir DIR   run the search and open workloads on a new token in DIR
                  (default /dev/shm when it exists: filling a token with 100,000
                  objects is then bound by the module, not by fsync);
                  \"--big-dir none\" keeps them on the first token
  --conf FILE     SOFTKMS_CONF for the --module just before it, instead of a
                  fresh token's (for example a slot with server = \"unix:...\");
                  the bench initializes its first uninitialized token
  --try-unlisted  run a workload also on a module that does not list its
                  mechanisms: it is measured if it works, else the cell shows
                  \"n/a (not listed, fails)\" and the failure goes to stderr
  --per-op        show the time of one operation beside every rate

Each module gets a fresh token in a temporary directory (SOFTKMS_CONF and
SOFTHSM2_CONF point there); the bench initializes it. For another module, set
PKCS11_BENCH_PIN to the user PIN of an initialized token, or leave a token
uninitialized for the bench to initialize.";

/// Parses the arguments after the program name.
pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut modules = Vec::new();
    let mut confs: Vec<Option<PathBuf>> = Vec::new();
    let mut try_unlisted = false;
    let mut per_op = false;
    let mut seconds = None;
    let mut rounds = None;
    let mut only = None;
    let mut markdown = false;
    let mut short = false;
    let mut max_objects = None;
    let mut fill_budget = 180.0;
    let mut raw = true;
    let mut targets = false;
    let shm = Path::new("/dev/shm");
    let mut big_dir = shm.is_dir().then(|| shm.to_path_buf());
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--module" => {
                modules.push(PathBuf::from(value("--module")?));
                confs.push(None);
            }
            "--conf" => {
                let v = value("--conf")?;
                match confs.last_mut() {
                    Some(c @ None) => *c = Some(PathBuf::from(v)),
                    Some(Some(_)) => return Err("one --conf per --module".into()),
                    None => return Err("--conf must follow a --module".into()),
                }
            }
            "--try-unlisted" => try_unlisted = true,
            "--per-op" => per_op = true,
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
            "--max-objects" => {
                let v = value("--max-objects")?;
                let n: usize = v.parse().map_err(|_| format!("bad --max-objects {v}"))?;
                if n < 1000 {
                    return Err("--max-objects must be at least 1000".into());
                }
                max_objects = Some(n);
            }
            "--fill-budget" => {
                let v = value("--fill-budget")?;
                let s: f64 = v.parse().map_err(|_| format!("bad --fill-budget {v}"))?;
                if !(s >= 0.0 && s.is_finite()) {
                    return Err(format!("bad --fill-budget {v}"));
                }
                fill_budget = s;
            }
            "--no-raw" => raw = false,
            "--targets" => targets = true,
            "--big-dir" => {
                let v = value("--big-dir")?;
                big_dir = (v != "none").then(|| PathBuf::from(v));
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if modules.is_empty() {
        return Err("at least one --module is needed".into());
    }
    let (default_seconds, default_rounds, default_objects) = if short {
        (0.2, 1, 1000)
    } else {
        (0.6, 5, 100_000)
    };
    Ok(Args {
        modules,
        confs,
        seconds: seconds.unwrap_or(default_seconds),
        rounds: rounds.unwrap_or(default_rounds),
        only,
        markdown,
        max_objects: max_objects.unwrap_or(default_objects),
        fill_budget,
        raw,
        targets,
        big_dir,
        try_unlisted,
        per_op,
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
        assert_eq!(a.max_objects, 1000);
        let a = args("--short --rounds 3 --module a.so --max-objects 10000 --no-raw").unwrap();
        assert_eq!((a.rounds, a.max_objects, a.raw), (3, 10_000, false));
        assert!(!a.try_unlisted && !a.per_op);
    }

    #[test]
    fn conf_belongs_to_the_module_before_it() {
        let a = args("--module a.so --module b.so --conf c.toml --try-unlisted --per-op").unwrap();
        assert_eq!(a.confs, [None, Some(PathBuf::from("c.toml"))]);
        assert!(a.try_unlisted && a.per_op);
        assert!(args("--conf c.toml --module a.so").is_err());
        assert!(args("--module a.so --conf c.toml --conf d.toml").is_err());
    }

    #[test]
    fn refuses_bad_input() {
        assert!(args("").is_err());
        assert!(args("--module a.so --seconds 0").is_err());
        assert!(args("--module a.so --rounds x").is_err());
        assert!(args("--module a.so --only (").is_err());
        assert!(args("--module a.so --what").is_err());
        assert!(args("--module").is_err());
        assert!(args("--module a.so --max-objects 10").is_err());
    }
}
