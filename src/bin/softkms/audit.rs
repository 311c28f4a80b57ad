//! The audit commands of `softkms`: show, export, verify, head (`docs/audit.md`).
//!
//! Audit rows are not secret (they never hold key material, PINs or plaintext),
//! but who may read which of them is the module's decision (`ReadAudit`): the
//! SO and the token owner read every record, a named principal the records of
//! the keys whose policy grants it `ReadAudit`.

use super::{out, Ctx, Outcome};
use clap::{Args, Subcommand};
use softkms::api::{AuditQuery, AuditRecord, Error, ErrorKind, KeyId, Timestamp, Token};

#[derive(Subcommand)]
pub(crate) enum AuditCmd {
    /// The records, oldest first.
    Show(Filter),
    /// The records as JSON lines (a CloudTrail-like shape).
    Export(Filter),
    /// Check the hash chain (exit 1 when it does not verify).
    Verify,
    /// The chain head (sequence number and hash), to anchor elsewhere.
    Head,
}

/// Which records.
#[derive(Args)]
pub(crate) struct Filter {
    /// Only records from this time on (RFC 3339, e.g. 2026-01-31T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only records of this key (label, id or alias/NAME; labels and
    /// aliases need SOFTKMS_PIN).
    #[arg(long)]
    key: Option<String>,
}

/// Logs in as whoever reads the log: the SO (`SOFTKMS_SO_PIN`) or, with
/// `SOFTKMS_PIN`, the token owner or the principal `--user` names. What each may
/// read is the module's policy-checked call (`ReadAudit`), not the CLI's.
fn reader(c: &Ctx, key: Option<&str>) -> Result<Token, Error> {
    // A key label is only visible to the user (labels of private keys are
    // sealed): with `--key` and both PINs at hand, the user reads.
    let user_pin = std::env::var_os("SOFTKMS_PIN").is_some();
    let user_for_label = key.is_some() && user_pin;
    if std::env::var_os("SOFTKMS_SO_PIN").is_some() && !user_for_label && c.user.is_none() {
        c.so_session()
    } else if user_pin {
        c.session(true)
    } else {
        Err(Error::new(
            ErrorKind::NotLoggedIn,
            "reading the audit log needs SOFTKMS_SO_PIN (the SO) or SOFTKMS_PIN (the user or the --user principal)",
        ))
    }
}

/// The records `--since` and `--key` select, of those the principal may read.
fn selected(f: &Filter, t: &Token) -> Result<Vec<AuditRecord>, Error> {
    let since =
        match &f.since {
            Some(s) => Some(Timestamp::parse_rfc3339(s).map_err(|_| {
                super::invalid(format!("--since wants an RFC 3339 time, not {s:?}"))
            })?),
            None => None,
        };
    // --key takes a label or alias (resolved when a user is logged in) or a
    // unique id.
    let by_name = match &f.key {
        Some(name) if std::env::var_os("SOFTKMS_PIN").is_some() => t
            .describe_key(&super::keys::key_ref(name))
            .ok()
            .map(|k| k.id),
        _ => None,
    };
    if let (Some(k), None) = (&f.key, &by_name) {
        eprintln!("note: --key {k:?} is taken as a unique id (no key of that name is visible; labels and aliases need SOFTKMS_PIN)");
    }
    let query = AuditQuery {
        since,
        key_id: by_name.or(f.key.clone().map(KeyId::new)),
    };
    t.audit_records(&query)
}

fn show(c: &Ctx, f: &Filter) -> Outcome {
    let t = reader(c, f.key.as_deref())?;
    let rows = selected(f, &t)?;
    if c.json {
        let items: Vec<serde_json::Value> = rows.iter().map(AuditRecord::to_json).collect();
        out(&serde_json::Value::Array(items).to_string());
        return Ok(true);
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
        if let Some(ctx) = r.context() {
            line.push_str(&format!(" context={ctx}"));
        }
        if !r.reason().is_empty() {
            line.push_str(&format!(" ({})", r.reason()));
        }
        out(&line);
    }
    Ok(true)
}

fn export(c: &Ctx, f: &Filter) -> Outcome {
    let t = reader(c, f.key.as_deref())?;
    for r in selected(f, &t)? {
        out(&r.to_json().to_string());
    }
    Ok(true)
}

fn verify(c: &Ctx) -> Outcome {
    let t = reader(c, None)?;
    let v = t.verify_audit()?;
    let head = v.head.hash_hex();
    let problems: Vec<String> = v.problems.iter().map(ToString::to_string).collect();
    let doc = serde_json::json!({
        "ok": v.ok(),
        "records": v.records,
        "anchor": v.anchor.seq,
        "head": {"sequence": v.head.seq, "hash": head},
        "problems": problems,
        "retired": v.retired,
        "retired_at_ms": v.retired_at_ms,
    });
    c.print(&doc, || {
        let mut lines: Vec<String> = problems.iter().map(|p| format!("FAIL {p}")).collect();
        if v.ok() {
            lines.push(format!(
                "audit log verifies: {} records ({}..{}), head {head}",
                v.records,
                v.anchor.seq + 1,
                v.head.seq
            ));
        }
        if v.retired > 0 {
            lines.push(format!(
                "retention retired {} records (1..{}), last at {} ms since the epoch",
                v.retired,
                v.retired,
                v.retired_at_ms
                    .map_or_else(|| "an unrecorded time".to_string(), |t| t.to_string())
            ));
        }
        lines
    });
    match problems.first() {
        None => Ok(true),
        Some(p) => Err(Error::new(
            ErrorKind::Tampered,
            format!(
                "audit log does not verify ({} problems): {p}",
                problems.len()
            ),
        )),
    }
}

fn head(c: &Ctx) -> Outcome {
    let t = reader(c, None)?;
    let h = t.audit_head()?;
    let hex = h.hash_hex();
    c.print(&serde_json::json!({"sequence": h.seq, "hash": hex}), || {
        vec![format!("{} {hex}", h.seq)]
    });
    Ok(true)
}

/// `softkms audit …`.
pub(crate) fn run(c: &Ctx, cmd: AuditCmd) -> Outcome {
    match cmd {
        AuditCmd::Show(f) => show(c, &f),
        AuditCmd::Export(f) => export(c, &f),
        AuditCmd::Verify => verify(c),
        AuditCmd::Head => head(c),
    }
}
