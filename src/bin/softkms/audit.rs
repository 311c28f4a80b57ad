//! The audit commands of `softkms`: show, export, verify, head (`docs/audit.md`).
//!
//! Audit rows are not secret (they never hold key material, PINs or plaintext),
//! but who may read which of them is the module's decision (`ReadAudit`,
//! `Module::read_audit`): the SO and the token owner read every record, a named
//! principal the records of the keys whose policy grants it `ReadAudit`.

use super::{fail, flag, out, read_text, session, Opts};
use cryptoki_sys::*;
use softkms::kms::audit::{self, AuditRecord};
use softkms::module::{self, AuditFilter, Module};

/// Logs in as whoever reads the log: the SO (`SOFTKMS_SO_PIN`) or, with
/// `SOFTKMS_PIN`, the token owner or the principal `--user` names. What each may
/// read is the module's policy-checked call (`ReadAudit`), not the CLI's.
fn reader(m: &Module, o: &Opts) -> Result<CK_SESSION_HANDLE, String> {
    // A key label is only visible to the user (labels of private keys are
    // sealed): with `--key` and both PINs at hand, the user reads.
    let user_for_label =
        flag(&o.words, "--key").is_some() && std::env::var_os("SOFTKMS_PIN").is_some();
    if std::env::var_os("SOFTKMS_SO_PIN").is_some() && !user_for_label {
        let h = session(m, o.slot, false)?;
        let pin = super::env_pin("SOFTKMS_SO_PIN")?;
        m.login(h, CKU_SO, &pin, None).map_err(fail)?;
        Ok(h)
    } else if std::env::var_os("SOFTKMS_PIN").is_some() {
        session(m, o.slot, true)
    } else {
        Err(
            "reading the audit log needs SOFTKMS_SO_PIN (the SO) or SOFTKMS_PIN (the user or the --user principal)"
                .into(),
        )
    }
}

/// The records `--since` and `--key` select, of those the principal may read.
fn selected(m: &Module, o: &Opts, h: CK_SESSION_HANDLE) -> Result<Vec<AuditRecord>, String> {
    let since_ms = match flag(&o.words, "--since") {
        Some(s) => Some(
            softkms::clock::parse_rfc3339(&s)
                .ok_or_else(|| format!("--since wants an RFC 3339 time, not {s:?}"))?
                .saturating_mul(1000),
        ),
        None => None,
    };
    // --key takes a label (resolved when a user is logged in) or a unique id.
    let key = flag(&o.words, "--key");
    let by_label = match &key {
        Some(name) if std::env::var_os("SOFTKMS_PIN").is_some() => super::kms::find_key(m, h, name)
            .ok()
            .map(|k| read_text(m, h, k, CKA_UNIQUE_ID)),
        _ => None,
    };
    if let (Some(k), None) = (&key, &by_label) {
        eprintln!("note: --key {k:?} is taken as a unique id (no key with that label is visible; labels need SOFTKMS_PIN)");
    }
    let filter = AuditFilter {
        since_ms,
        key_uid: by_label.or(key),
    };
    m.read_audit(h, &filter).map_err(fail)
}

fn show(m: &Module, o: &Opts) -> Result<(), String> {
    let h = reader(m, o)?;
    let rows = selected(m, o, h)?;
    if o.json || o.words.iter().any(|w| w == "--json") {
        let items: Vec<serde_json::Value> = rows.iter().map(module::audit_json).collect();
        out(&serde_json::Value::Array(items).to_string());
        return Ok(());
    }
    for r in &rows {
        let key = match (&r.key_uid, r.key_version) {
            (Some(k), Some(v)) => format!("{k}@{v}"),
            (Some(k), None) => k.clone(),
            _ => "-".into(),
        };
        let count = if r.count == 1 {
            String::new()
        } else {
            format!(" x{}", r.count)
        };
        let principal = if r.principal.is_empty() {
            "-"
        } else {
            &r.principal
        };
        let mut line = format!(
            "{:>6} {} {principal:<8} {:<22} {key} {}{count}",
            r.seq,
            audit::rfc3339_ms(r.time_ms),
            r.function,
            audit::rv_name(r.rv)
        );
        if let Some(c) = &r.context {
            line.push_str(&format!(" context={c}"));
        }
        if !r.reason.is_empty() {
            line.push_str(&format!(" ({})", r.reason));
        }
        out(&line);
    }
    Ok(())
}

fn export(m: &Module, o: &Opts) -> Result<(), String> {
    let h = reader(m, o)?;
    for r in selected(m, o, h)? {
        out(&module::audit_json(&r).to_string());
    }
    Ok(())
}

fn verify(m: &Module, o: &Opts) -> Result<(), String> {
    let h = reader(m, o)?;
    let v = m.verify_audit(h).map_err(fail)?;
    let head = audit::hash_hex(&v.head.hash);
    if o.json {
        let problems: Vec<String> = v.problems.iter().map(ToString::to_string).collect();
        out(&serde_json::json!({
            "ok": v.ok(),
            "records": v.records,
            "anchor": v.anchor.seq,
            "head": {"sequence": v.head.seq, "hash": head},
            "problems": problems,
            "retired": v.retired,
            "retired_at_ms": v.retired_at_ms,
        })
        .to_string());
    } else {
        for p in &v.problems {
            out(&format!("FAIL {p}"));
        }
        if v.ok() {
            out(&format!(
                "audit log verifies: {} records ({}..{}), head {head}",
                v.records,
                v.anchor.seq + 1,
                v.head.seq
            ));
        }
        if v.retired > 0 {
            out(&format!(
                "retention retired {} records (1..{}), last at {} ms since the epoch",
                v.retired,
                v.retired,
                v.retired_at_ms
                    .map_or_else(|| "an unrecorded time".to_string(), |t| t.to_string())
            ));
        }
    }
    match v.problems.first() {
        None => Ok(()),
        Some(p) => Err(format!(
            "audit log does not verify ({} problems): {p}",
            v.problems.len()
        )),
    }
}

fn head(m: &Module, o: &Opts) -> Result<(), String> {
    let h = reader(m, o)?;
    let h = m.audit_head(h).map_err(fail)?;
    let hex = audit::hash_hex(&h.hash);
    if o.json {
        out(&serde_json::json!({"sequence": h.seq, "hash": hex}).to_string());
    } else {
        out(&format!("{} {hex}", h.seq));
    }
    Ok(())
}

/// `softkms audit VERB …`.
pub(super) fn run(m: &Module, o: &Opts, verb: &str) -> Result<(), String> {
    match verb {
        "show" => show(m, o),
        "export" => export(m, o),
        "verify" => verify(m, o),
        "head" => head(m, o),
        _ => Err(format!(
            "unknown audit command {verb:?} (show, export, verify, head)"
        )),
    }
}
