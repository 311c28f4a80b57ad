//! The audit commands of `softkms`: show, export, verify, head (`docs/audit.md`).
//!
//! Audit rows are not secret (they never hold key material, PINs or plaintext),
//! but who may read which of them is the module's decision (`ReadAudit`): the
//! SO and the token owner read every record, a named principal the records of
//! the keys whose policy grants it `ReadAudit`.

use super::{fail, flag, out, session, Opts};
use softkms::api::{AuditQuery, AuditRecord, KeyId, KeyRef, Principal, Softkms, Timestamp, Token};

/// Logs in as whoever reads the log: the SO (`SOFTKMS_SO_PIN`) or, with
/// `SOFTKMS_PIN`, the token owner or the principal `--user` names. What each may
/// read is the module's policy-checked call (`ReadAudit`), not the CLI's.
fn reader(kms: &Softkms, o: &Opts) -> Result<Token, String> {
    // A key label is only visible to the user (labels of private keys are
    // sealed): with `--key` and both PINs at hand, the user reads.
    let user_for_label =
        flag(&o.words, "--key").is_some() && std::env::var_os("SOFTKMS_PIN").is_some();
    if std::env::var_os("SOFTKMS_SO_PIN").is_some() && !user_for_label {
        let t = session(kms, o.slot, false)?;
        let pin = super::env_pin("SOFTKMS_SO_PIN")?;
        t.login(&Principal::SecurityOfficer, &pin).map_err(fail)?;
        Ok(t)
    } else if std::env::var_os("SOFTKMS_PIN").is_some() {
        session(kms, o.slot, true)
    } else {
        Err(
            "reading the audit log needs SOFTKMS_SO_PIN (the SO) or SOFTKMS_PIN (the user or the --user principal)"
                .into(),
        )
    }
}

/// The records `--since` and `--key` select, of those the principal may read.
fn selected(o: &Opts, t: &Token) -> Result<Vec<AuditRecord>, String> {
    let since = match flag(&o.words, "--since") {
        Some(s) => Some(
            Timestamp::parse_rfc3339(&s)
                .map_err(|_| format!("--since wants an RFC 3339 time, not {s:?}"))?,
        ),
        None => None,
    };
    // --key takes a label (resolved when a user is logged in) or a unique id.
    let key = flag(&o.words, "--key");
    let by_label = match &key {
        Some(name) if std::env::var_os("SOFTKMS_PIN").is_some() => {
            t.describe_key(&KeyRef::label(name)).ok().map(|k| k.id)
        }
        _ => None,
    };
    if let (Some(k), None) = (&key, &by_label) {
        eprintln!("note: --key {k:?} is taken as a unique id (no key with that label is visible; labels need SOFTKMS_PIN)");
    }
    let query = AuditQuery {
        since,
        key_id: by_label.or(key.map(KeyId::new)),
    };
    t.audit_records(&query).map_err(fail)
}

fn show(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let t = reader(kms, o)?;
    let rows = selected(o, &t)?;
    if o.json || o.words.iter().any(|w| w == "--json") {
        let items: Vec<serde_json::Value> = rows.iter().map(AuditRecord::to_json).collect();
        out(&serde_json::Value::Array(items).to_string());
        return Ok(());
    }
    for r in &rows {
        let key = match (r.key_id(), r.key_version()) {
            (Some(k), Some(v)) => format!("{k}@{v}"),
            (Some(k), None) => k.to_string(),
            _ => "-".into(),
        };
        let count = if r.count() == 1 {
            String::new()
        } else {
            format!(" x{}", r.count())
        };
        let principal = if r.principal().is_empty() {
            "-"
        } else {
            r.principal()
        };
        let mut line = format!(
            "{:>6} {} {principal:<8} {:<22} {key} {}{count}",
            r.seq(),
            r.time_rfc3339(),
            r.function(),
            r.result_name()
        );
        if let Some(c) = r.context() {
            line.push_str(&format!(" context={c}"));
        }
        if !r.reason().is_empty() {
            line.push_str(&format!(" ({})", r.reason()));
        }
        out(&line);
    }
    Ok(())
}

fn export(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let t = reader(kms, o)?;
    for r in selected(o, &t)? {
        out(&r.to_json().to_string());
    }
    Ok(())
}

fn verify(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let t = reader(kms, o)?;
    let v = t.verify_audit().map_err(fail)?;
    let head = v.head.hash_hex();
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

fn head(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let t = reader(kms, o)?;
    let h = t.audit_head().map_err(fail)?;
    let hex = h.hash_hex();
    if o.json {
        out(&serde_json::json!({"sequence": h.seq, "hash": hex}).to_string());
    } else {
        out(&format!("{} {hex}", h.seq));
    }
    Ok(())
}

/// `softkms audit VERB …`.
pub(super) fn run(kms: &Softkms, o: &Opts, verb: &str) -> Result<(), String> {
    match verb {
        "show" => show(kms, o),
        "export" => export(kms, o),
        "verify" => verify(kms, o),
        "head" => head(kms, o),
        _ => Err(format!(
            "unknown audit command {verb:?} (show, export, verify, head)"
        )),
    }
}
