//! PKCS#11 3.0 conformance runner: loads any PKCS#11 module and runs a battery of
//! cases derived from the PKCS#11 3.0 base specification (each names the section
//! it checks), printing one line per case, a summary line
//! `N passed, N failed, N skipped`, and exiting non-zero when any case failed.
//!
//! Usage: `pkcs11-conformance --module PATH [--slot N] [--so-pin PIN] [--pin PIN] [--init] [--json]`

#![allow(clippy::cast_possible_truncation)]

mod cases;
mod mechs;
mod vectors;

use cryptoki_sys::*;
use p11_testkit::{rv_name, Module};

/// The result of one case.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The module did what the section requires.
    Pass,
    /// It did not: expected and actual.
    Fail(String),
    /// Not applicable to this module (a mechanism it does not advertise, ...).
    Skip(String),
}

/// One recorded case.
pub struct CaseResult {
    id: String,
    section: String,
    outcome: Outcome,
}

/// What every case may use.
#[derive(Clone)]
pub struct Env {
    /// The slot under test (resolved after every C_Initialize).
    pub slot: CK_SLOT_ID,
    /// The SO PIN.
    pub so_pin: Vec<u8>,
    /// The user PIN.
    pub pin: Vec<u8>,
    /// Mechanisms the token advertises.
    pub mechs: Vec<CK_MECHANISM_TYPE>,
}

/// Options of the command line.
struct Options {
    module: String,
    slot: Option<CK_SLOT_ID>,
    so_pin: String,
    pin: String,
    init: bool,
    json: bool,
    only: Option<String>,
}

/// The label `--init` gives the token; the slot is found again by it after
/// every C_Initialize (SoftHSMv2 renumbers an initialized token's slot).
pub const LABEL: &str = "pkcs11-conformance";

/// Runs the cases and collects their results.
pub struct Runner<'a> {
    /// The module.
    pub m: &'a Module,
    opts_slot: Option<CK_SLOT_ID>,
    by_label: bool,
    so_pin: Vec<u8>,
    pin: Vec<u8>,
    only: Option<String>,
    results: Vec<CaseResult>,
}

impl<'a> Runner<'a> {
    /// Records a case outcome.
    pub fn record(&mut self, id: &str, section: &str, outcome: Outcome) {
        if let Some(o) = &self.only {
            if !id.starts_with(o.as_str()) {
                return;
            }
        }
        self.results.push(CaseResult {
            id: id.to_string(),
            section: section.to_string(),
            outcome,
        });
    }

    /// Runs one case body with a fresh state (all sessions closed afterwards, so
    /// the login state never leaks into the next case).
    pub fn case(
        &mut self,
        id: &str,
        section: &str,
        env: &Env,
        f: impl FnOnce(&Module, &Env) -> Outcome,
    ) {
        if let Some(o) = &self.only {
            if !id.starts_with(o.as_str()) {
                return;
            }
        }
        let out = f(self.m, env);
        self.m.close_all(env.slot);
        self.record(id, section, out);
    }

    /// Finds the slot under test in an initialized module.
    fn resolve_slot(&self) -> Result<CK_SLOT_ID, String> {
        let slots = self
            .m
            .slots(true)
            .map_err(|rv| format!("C_GetSlotList: {}", rv_name(rv)))?;
        if self.by_label {
            for s in &slots {
                if let Ok(t) = self.m.token_info(*s) {
                    if padded(&t.label) == LABEL {
                        return Ok(*s);
                    }
                }
            }
        }
        match self.opts_slot {
            Some(s) => Ok(s),
            None => slots
                .first()
                .copied()
                .ok_or_else(|| "no slot with a token".to_string()),
        }
    }

    /// Runs a group of cases between C_Initialize and C_Finalize.
    pub fn group(&mut self, name: &str, f: impl FnOnce(&mut Runner<'a>, &Env)) {
        let rv = self.m.init();
        if rv != CKR_OK {
            self.record(
                &format!("{name}.setup"),
                "§5.4.1",
                Outcome::Fail(format!("C_Initialize: {}", rv_name(rv))),
            );
            return;
        }
        match self.resolve_slot() {
            Ok(slot) => {
                let mechs = self.m.mechanisms(slot).unwrap_or_default();
                let env = Env {
                    slot,
                    so_pin: self.so_pin.clone(),
                    pin: self.pin.clone(),
                    mechs,
                };
                f(self, &env);
                self.m.close_all(slot);
            }
            Err(e) => self.record(&format!("{name}.setup"), "§5.5", Outcome::Fail(e)),
        }
        self.m.finalize();
    }
}

/// A blank-padded fixed-length field as a trimmed string.
pub fn padded(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end_matches(' ').to_string()
}

/// Pass when `got` is one of `expected`.
pub fn expect_rv(expected: &[CK_RV], got: CK_RV) -> Outcome {
    if expected.contains(&got) {
        Outcome::Pass
    } else {
        Outcome::Fail(format!(
            "expected {}, got {}",
            names(expected),
            rv_name(got)
        ))
    }
}

/// "A or B".
pub fn names(rvs: &[CK_RV]) -> String {
    rvs.iter()
        .map(|r| rv_name(*r))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Pass when the condition holds, else fail with the detail.
pub fn check(cond: bool, detail: impl FnOnce() -> String) -> Outcome {
    if cond {
        Outcome::Pass
    } else {
        Outcome::Fail(detail())
    }
}

/// The `CK_RV` of a result.
pub fn rv_of<T>(r: &Result<T, CK_RV>) -> CK_RV {
    match r {
        Ok(_) => CKR_OK,
        Err(rv) => *rv,
    }
}

/// Unwraps a `Result<_, CK_RV>` in a case body, failing the case with the call's name.
#[macro_export]
macro_rules! t {
    ($e:expr, $what:expr) => {
        match $e {
            Ok(v) => v,
            Err(rv) => {
                return $crate::Outcome::Fail(format!(
                    "{} failed: {}",
                    $what,
                    p11_testkit::rv_name(rv)
                ))
            }
        }
    };
}

/// Fails the case unless the call returned CKR_OK.
#[macro_export]
macro_rules! ok {
    ($e:expr, $what:expr) => {
        let rv = $e;
        if rv != cryptoki_sys::CKR_OK {
            return $crate::Outcome::Fail(format!(
                "{}: expected CKR_OK, got {}",
                $what,
                p11_testkit::rv_name(rv)
            ));
        }
    };
}

/// Fails the case unless the call returned one of the listed values.
#[macro_export]
macro_rules! want {
    ($e:expr, [$($rv:expr),+], $what:expr) => {
        let rv = $e;
        let exp = [$($rv),+];
        if !exp.contains(&rv) {
            return $crate::Outcome::Fail(format!(
                "{}: expected {}, got {}", $what, $crate::names(&exp), p11_testkit::rv_name(rv)
            ));
        }
    };
}

/// Fails the case when the condition does not hold.
#[macro_export]
macro_rules! ensure {
    ($c:expr, $($fmt:tt)+) => {
        if !$c {
            return $crate::Outcome::Fail(format!($($fmt)+));
        }
    };
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        module: String::new(),
        slot: None,
        so_pin: "so-pin-1234".into(),
        pin: "user-pin-5678".into(),
        init: false,
        json: false,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |n: &str| args.next().ok_or_else(|| format!("{n} needs a value"));
        match a.as_str() {
            "--module" => o.module = val("--module")?,
            "--slot" => o.slot = Some(val("--slot")?.parse().map_err(|e| format!("--slot: {e}"))?),
            "--so-pin" => o.so_pin = val("--so-pin")?,
            "--pin" => o.pin = val("--pin")?,
            "--only" => o.only = Some(val("--only")?),
            "--init" => o.init = true,
            "--json" => o.json = true,
            "-h" | "--help" => {
                println!(
                    "usage: pkcs11-conformance --module PATH [--slot N] [--so-pin PIN] [--pin PIN] [--init] [--json] [--only PREFIX]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.module.is_empty() {
        return Err("--module PATH is required".into());
    }
    Ok(o)
}

/// `--init`: C_InitToken with the SO PIN and the label, then C_InitPIN.
fn init_token(m: &Module, o: &Options) -> Result<(), String> {
    let rv = m.init();
    if rv != CKR_OK {
        return Err(format!("C_Initialize: {}", rv_name(rv)));
    }
    let r = (|| {
        let slot = match o.slot {
            Some(s) => s,
            None => *m
                .slots(true)
                .map_err(rv_name)?
                .first()
                .ok_or("no slot with a token")?,
        };
        let rv = m.init_token(slot, o.so_pin.as_bytes(), LABEL);
        if rv != CKR_OK {
            return Err(format!("C_InitToken: {}", rv_name(rv)));
        }
        // SoftHSMv2 gives the initialized token a new slot id: find it by label.
        let mut slot2 = slot;
        for s in m.slots(true).map_err(rv_name)? {
            if m.token_info(s)
                .map(|t| padded(&t.label) == LABEL)
                .unwrap_or(false)
            {
                slot2 = s;
            }
        }
        let s = m
            .open(slot2, true)
            .map_err(|rv| format!("C_OpenSession: {}", rv_name(rv)))?;
        let rv = m.login(s, CKU_SO, o.so_pin.as_bytes());
        if rv != CKR_OK {
            return Err(format!("C_Login(SO): {}", rv_name(rv)));
        }
        let rv = m.init_pin(s, o.pin.as_bytes());
        if rv != CKR_OK {
            return Err(format!("C_InitPIN: {}", rv_name(rv)));
        }
        m.close_all(slot2);
        Ok(())
    })();
    m.finalize();
    r
}

/// The chapters of the battery: (key, title).
pub const CHAPTERS: [(&str, &str); 6] = [
    (
        "general",
        "General purpose, function list, interfaces, not-initialized (§5.4, §5.1.6)",
    ),
    ("slots", "Slot and token management (§5.5)"),
    (
        "sessions",
        "Sessions, login state machine, random (§5.6, §5.19, §5.20)",
    ),
    ("objects", "Objects and attributes (§5.7, chapter 4)"),
    (
        "mechanisms",
        "Mechanisms, operations, key generation and derivation (§5.8–§5.15, §5.18)",
    ),
    ("wrap", "Wrapping and unwrapping (§5.18.3, §5.18.4)"),
];

/// The chapter of a case id.
pub fn chapter(id: &str) -> &'static str {
    let first = id.split('.').next().unwrap_or_default();
    match first {
        "init" | "finalize" | "info" | "function-list" | "interface-list" | "interface"
        | "not-initialized" => "general",
        "slot-list"
        | "slot-info"
        | "token-info"
        | "mechanism-list"
        | "mechanism-info"
        | "wait-for-slot-event"
        | "init-token"
        | "init-pin"
        | "set-pin" => "slots",
        "create" | "get" | "set" | "copy" | "destroy" | "find" | "object-size" => "objects",
        "mech" | "advertised" | "ops" | "refuse" => "mechanisms",
        "wrap" => "wrap",
        _ => "sessions",
    }
}

/// `--report A.json B.json [REASONS.tsv]`: the side-by-side Markdown of two runs
/// (SoftKMS first, SoftHSMv2 second), with a reason for every difference.
fn report(args: &[String]) -> Result<String, String> {
    let load = |p: &str| -> Result<serde_json::Value, String> {
        let t = std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?;
        serde_json::from_str(&t).map_err(|e| format!("{p}: {e}"))
    };
    let (a, b) = (load(&args[0])?, load(&args[1])?);
    let mut reasons = std::collections::HashMap::new();
    if let Some(p) = args.get(2) {
        let t = std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?;
        for line in t
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            if let Some((id, why)) = line.split_once('\t') {
                reasons.insert(id.trim().to_string(), why.trim().to_string());
            }
        }
    }
    let cases = |v: &serde_json::Value| -> Vec<(String, String, String, String)> {
        v["cases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        let f = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                        (f("id"), f("section"), f("result"), f("detail"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (ca, cb) = (cases(&a), cases(&b));
    let mut ids: Vec<(String, String)> = ca.iter().map(|c| (c.0.clone(), c.1.clone())).collect();
    for c in &cb {
        if !ids.iter().any(|(i, _)| *i == c.0) {
            ids.push((c.0.clone(), c.1.clone()));
        }
    }
    let find =
        |v: &[(String, String, String, String)], id: &str| v.iter().find(|c| c.0 == id).cloned();
    let cell = |c: &Option<(String, String, String, String)>| {
        c.as_ref().map_or("—".to_string(), |c| c.2.clone())
    };
    let total = |v: &serde_json::Value| {
        format!(
            "{} passed, {} failed, {} skipped",
            v["passed"], v["failed"], v["skipped"]
        )
    };
    let mut out = String::new();
    out.push_str("# PKCS#11 conformance: SoftKMS and SoftHSMv2 side by side\n\n");
    out.push_str(
        "Generated by `bash pkcs11-conformance/run-side-by-side.sh` (do not edit by hand; the\n",
    );
    out.push_str(
        "reasons come from `pkcs11-conformance/reasons.tsv`). Each case names the section of the\n",
    );
    out.push_str(
        "PKCS#11 3.0 base specification it checks (`cm §` the 3.0 current mechanisms, `3.2 §`\n",
    );
    out.push_str("PKCS#11 3.2 for ML-DSA and ML-KEM); a case for a mechanism a module does not\n");
    out.push_str("advertise is skipped. See `pkcs11-conformance/README.md` for the runner.\n\n");
    out.push_str(
        "Every SoftKMS failure below is a SoftKMS bug reported to the module owner and listed in\n",
    );
    out.push_str(
        "`pkcs11-conformance/softkms-known-failures.txt`; CI fails on any other SoftKMS failure.\n",
    );
    out.push_str(
        "SoftHSMv2 failures are differences from the specification, recorded, not fixed here.\n\n",
    );
    out.push_str("## Totals\n\n| Module | Result |\n|---|---|\n");
    out.push_str(&format!(
        "| SoftKMS | {} |\n| SoftHSMv2 | {} |\n\n",
        total(&a),
        total(&b)
    ));
    out.push_str("## Cases per chapter\n\n| Chapter | SoftKMS (pass/fail/skip) | SoftHSMv2 (pass/fail/skip) |\n|---|---|---|\n");
    for ch in CHAPTERS {
        let count = |v: &[(String, String, String, String)]| {
            let c: Vec<_> = v.iter().filter(|c| chapter(&c.0) == ch.0).collect();
            let n = |r: &str| c.iter().filter(|c| c.2 == r).count();
            format!("{} ({}/{}/{})", c.len(), n("pass"), n("fail"), n("skip"))
        };
        out.push_str(&format!("| {} | {} | {} |\n", ch.1, count(&ca), count(&cb)));
    }
    out.push('\n');
    out.push_str("## Differences\n\nEvery case whose result differs between the two modules, with the reason.\n\n");
    out.push_str("| Case | Section | SoftKMS | SoftHSMv2 | Reason |\n|---|---|---|---|---|\n");
    let mut ndiff = 0;
    for (id, sec) in &ids {
        let (x, y) = (find(&ca, id), find(&cb, id));
        if cell(&x) == cell(&y) {
            continue;
        }
        ndiff += 1;
        let detail = |c: &Option<(String, String, String, String)>| {
            c.as_ref()
                .filter(|c| c.2 == "fail")
                .map(|c| c.3.clone())
                .unwrap_or_default()
        };
        // An exact id, else the longest "prefix*" rule.
        let rule = reasons.get(id).cloned().or_else(|| {
            reasons
                .iter()
                .filter(|(k, _)| k.ends_with('*') && id.starts_with(k.trim_end_matches('*')))
                .max_by_key(|(k, _)| k.len())
                .map(|(_, v)| v.clone())
        });
        let why = rule.unwrap_or_else(|| {
            let d = [detail(&x), detail(&y)]
                .into_iter()
                .filter(|d| !d.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            if d.is_empty() {
                "(no reason recorded)".to_string()
            } else {
                d
            }
        });
        out.push_str(&format!(
            "| `{id}` | {sec} | {} | {} | {} |\n",
            cell(&x),
            cell(&y),
            why.replace('|', "\\|")
        ));
    }
    out.push_str(&format!("\n{ndiff} cases differ.\n\n## All cases\n\n"));
    out.push_str("| Case | Section | SoftKMS | SoftHSMv2 |\n|---|---|---|---|\n");
    for (id, sec) in &ids {
        out.push_str(&format!(
            "| `{id}` | {sec} | {} | {} |\n",
            cell(&find(&ca, id)),
            cell(&find(&cb, id))
        ));
    }
    Ok(out)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--report") {
        if argv.len() < 3 {
            eprintln!("usage: pkcs11-conformance --report SOFTKMS.json SOFTHSM.json [REASONS.tsv]");
            std::process::exit(2);
        }
        match report(&argv[1..]) {
            Ok(md) => {
                print!("{md}");
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("pkcs11-conformance: {e}");
                std::process::exit(2);
            }
        }
    }
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pkcs11-conformance: {e}");
            std::process::exit(2);
        }
    };
    let m = match Module::load(&o.module) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("pkcs11-conformance: {e}");
            std::process::exit(2);
        }
    };
    if o.init {
        if let Err(e) = init_token(&m, &o) {
            eprintln!("pkcs11-conformance: --init: {e}");
            std::process::exit(2);
        }
    }
    let mut r = Runner {
        m: &m,
        opts_slot: o.slot,
        by_label: o.init,
        so_pin: o.so_pin.clone().into_bytes(),
        pin: o.pin.clone().into_bytes(),
        only: o.only.clone(),
        results: Vec::new(),
    };
    cases::general::run(&mut r);
    cases::slots::run(&mut r);
    cases::sessions::run(&mut r);
    cases::objects::run(&mut r);
    mechs::run(&mut r);
    cases::wrap::run(&mut r);
    cases::more::run(&mut r);

    let (mut p, mut f, mut s) = (0, 0, 0);
    for c in &r.results {
        match c.outcome {
            Outcome::Pass => p += 1,
            Outcome::Fail(_) => f += 1,
            Outcome::Skip(_) => s += 1,
        }
    }
    if o.json {
        let cases: Vec<serde_json::Value> = r
            .results
            .iter()
            .map(|c| {
                let (res, detail) = match &c.outcome {
                    Outcome::Pass => ("pass", String::new()),
                    Outcome::Fail(d) => ("fail", d.clone()),
                    Outcome::Skip(d) => ("skip", d.clone()),
                };
                serde_json::json!({"id": c.id, "section": c.section, "result": res, "detail": detail})
            })
            .collect();
        let doc = serde_json::json!({
            "module": o.module,
            "cases": cases,
            "passed": p, "failed": f, "skipped": s,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        eprintln!("{p} passed, {f} failed, {s} skipped");
    } else {
        println!("{:<52} {:<10} {:<6} DETAIL", "CASE", "SECTION", "RESULT");
        for c in &r.results {
            let (res, detail) = match &c.outcome {
                Outcome::Pass => ("pass", ""),
                Outcome::Fail(d) => ("FAIL", d.as_str()),
                Outcome::Skip(d) => ("skip", d.as_str()),
            };
            println!("{:<52} {:<10} {:<6} {}", c.id, c.section, res, detail);
        }
        println!("{p} passed, {f} failed, {s} skipped");
    }
    std::process::exit(if f > 0 { 1 } else { 0 });
}
