//! The audit view: the token's records (or one key's) that the signed-in
//! principal may read, filtered by principal, operation, outcome and time,
//! with charts of uses per hour by operation and by principal (refusals
//! marked) and, for the SO and the token owner, the chain's verification.

use super::chart::{uses_per_hour, Bar};
use super::html::{self, layout, time};
use super::{encode, Page, Req, Who, PREFIX};
use crate::api::{AuditCategory, AuditQuery, AuditRecord, KeyMetadata, Principal, Timestamp};
use crate::serve::names::aws_key_id;
use crate::serve::State;
use maud::{html, PreEscaped};
use std::collections::BTreeMap;

/// The most records the table shows (the newest); the charts count all.
const MAX_ROWS: usize = 500;
/// The default period: the last day.
const DEFAULT_HOURS: i64 = 24;
/// The longest period the charts draw (31 days).
const MAX_HOURS: i64 = 24 * 31;

/// A `datetime-local` field's value (`YYYY-MM-DDTHH:MM`, UTC) as a time.
fn parse_local(text: &str) -> Option<Timestamp> {
    if text.is_empty() {
        return None;
    }
    let full = if text.len() == 16 {
        format!("{text}:00Z")
    } else {
        format!("{text}Z")
    };
    Timestamp::parse_rfc3339(&full).ok()
}

/// A time as a `datetime-local` field's value.
fn local(t: Timestamp) -> String {
    t.to_rfc3339().chars().take(16).collect()
}

/// The filters of a request.
struct Filter {
    principal: String,
    operation: String,
    outcome: String,
    since: Timestamp,
    until: Timestamp,
}

impl Filter {
    fn of(req: &Req) -> Result<Filter, String> {
        let now = Timestamp::now();
        let q = &req.query;
        let until = match q.text("until") {
            "" => now,
            t => parse_local(t).ok_or("The end time is not a date and time (YYYY-MM-DDTHH:MM).")?,
        };
        let since = match q.text("since") {
            "" => Timestamp::from_unix(until.unix() - DEFAULT_HOURS * 3600),
            t => {
                parse_local(t).ok_or("The start time is not a date and time (YYYY-MM-DDTHH:MM).")?
            }
        };
        if since.unix() > until.unix() {
            return Err("The start time is after the end time.".into());
        }
        let outcome = match q.text("outcome") {
            o @ ("ok" | "refused") => o.to_string(),
            _ => "any".to_string(),
        };
        Ok(Filter {
            principal: q.text("principal").to_string(),
            operation: q.text("operation").to_string(),
            outcome,
            since,
            until,
        })
    }

    fn keeps(&self, r: &AuditRecord) -> bool {
        let t = r.time_ms() / 1000;
        let refused = r.result_code() != 0;
        (self.principal.is_empty() || r.principal() == self.principal)
            && (self.operation.is_empty() || r.function() == self.operation)
            && match self.outcome.as_str() {
                "ok" => !refused,
                "refused" => refused,
                _ => true,
            }
            && t >= self.since.unix()
            && t <= self.until.unix()
    }
}

/// The uses per hour of `records`, by `series`.
fn bars(records: &[&AuditRecord], series: impl Fn(&AuditRecord) -> String) -> Vec<Bar> {
    let mut by: BTreeMap<(i64, String), (u64, u64)> = BTreeMap::new();
    for r in records {
        let hour = (r.time_ms() / 1000).div_euclid(3600) * 3600;
        let e = by.entry((hour, series(r))).or_default();
        if r.result_code() == 0 {
            e.0 += r.count();
        } else {
            e.1 += r.count();
        }
    }
    by.into_iter()
        .map(|((hour, series), (ok, refused))| Bar {
            hour,
            series,
            ok,
            refused,
        })
        .collect()
}

/// `GET /console/audit` and `GET /console/keys/ID/audit`.
pub(crate) fn page(state: &State, who: &Who, req: &Req, key: Option<&KeyMetadata>) -> Page {
    let filter = match Filter::of(req) {
        Ok(f) => f,
        Err(e) => return html::bad_request(Some(who), &e),
    };
    // The SO reads through an owner's session of its own (the module lets
    // both read every record; the server's own session authenticates API
    // requests and is not held for this); a principal through a session
    // acting for it.
    let token = if who.is_so() {
        super::keys::owner_session(state, who)
    } else {
        super::keys::session(state, who)
    };
    let token = match token {
        Ok(t) => t,
        Err(p) => return p,
    };
    let query = AuditQuery {
        since: Some(filter.since),
        key_id: key.map(|m| m.id.clone()),
    };
    let all = match token.audit_records(&query) {
        Ok(r) => r,
        Err(e) => {
            return html::error_page(
                403,
                Some(who),
                "Audit",
                &format!("You may read no audit records here: {}", e.message()),
            )
        }
    };
    let kept: Vec<&AuditRecord> = all.iter().filter(|r| filter.keeps(r)).collect();
    // The charts count uses of keys (the gate's records), not the requests
    // and management records around them: a refused API request is one
    // refused use, not two.
    let uses: Vec<&AuditRecord> = kept
        .iter()
        .copied()
        .filter(|r| r.category() == AuditCategory::Data)
        .collect();
    let from_hour = filter.since.unix().div_euclid(3600) * 3600;
    let to_hour = filter.until.unix().div_euclid(3600) * 3600;
    let from_hour = from_hour.max(to_hour - (MAX_HOURS - 1) * 3600);
    let by_operation = uses_per_hour(
        "chart-operation",
        "Uses per hour by operation",
        &bars(&uses, |r| r.function().to_string()),
        from_hour,
        to_hour,
    );
    let by_principal = uses_per_hour(
        "chart-principal",
        "Uses per hour by principal",
        &bars(&uses, |r| match r.principal() {
            "" => "(unauthenticated)".to_string(),
            p => p.to_string(),
        }),
        from_hour,
        to_hour,
    );
    // The chain: the SO and the token owner verify it (as the module allows).
    let chain = if matches!(who.principal, Principal::SecurityOfficer | Principal::User) {
        Some(token.verify_audit())
    } else {
        None
    };
    let mut principals: Vec<&str> = all.iter().map(AuditRecord::principal).collect();
    principals.sort_unstable();
    principals.dedup();
    let mut operations: Vec<&str> = all.iter().map(AuditRecord::function).collect();
    operations.sort_unstable();
    operations.dedup();
    let uses_total: u64 = uses.iter().map(|r| r.count()).sum();
    let refused_total: u64 = uses
        .iter()
        .filter(|r| r.result_code() != 0)
        .map(|r| r.count())
        .sum();
    let base = match key {
        Some(m) => format!("{PREFIX}/keys/{}/audit", encode(&aws_key_id(&m.id))),
        None => format!("{PREFIX}/audit"),
    };
    let title = match key {
        Some(m) => format!("Audit of key {}", aws_key_id(&m.id)),
        None => "Audit".to_string(),
    };
    let body = html! {
        @if let Some(m) = key {
            p { a href={ (PREFIX) "/keys/" (encode(&aws_key_id(&m.id))) } { "Back to the key" } }
        }
        form #audit-filter method="get" action=(base) {
            fieldset {
                legend { "Filter" }
                label for="f-principal" { "Principal" }
                select #f-principal name="principal" {
                    option value="" selected[filter.principal.is_empty()] { "any" }
                    @for p in &principals {
                        option value=(p) selected[*p == filter.principal] { (if p.is_empty() { "(unauthenticated)" } else { p }) }
                    }
                }
                label for="f-operation" { "Operation" }
                select #f-operation name="operation" {
                    option value="" selected[filter.operation.is_empty()] { "any" }
                    @for o in &operations {
                        option value=(o) selected[*o == filter.operation] { (o) }
                    }
                }
                label for="f-outcome" { "Outcome" }
                select #f-outcome name="outcome" {
                    @for o in ["any", "ok", "refused"] {
                        option value=(o) selected[o == filter.outcome] { (o) }
                    }
                }
                label for="f-since" { "From (UTC)" }
                input #f-since type="datetime-local" name="since" value=(local(filter.since));
                label for="f-until" { "To (UTC)" }
                input #f-until type="datetime-local" name="until" value=(local(filter.until));
                button #f-apply type="submit" { "Apply" }
            }
        }
        section #charts aria-labelledby="charts-h" {
            h2 #charts-h { "Uses per hour" }
            p { (uses_total) " uses of keys in the period, " (refused_total) " of them refused (in red, marked above their hour). Requests and management records are in the table below." }
            figure { (PreEscaped(by_operation)) figcaption { "By operation" } }
            figure { (PreEscaped(by_principal)) figcaption { "By principal" } }
        }
        section #chain aria-labelledby="chain-h" {
            h2 #chain-h { "Hash chain" }
            @match &chain {
                Some(Ok(v)) if v.ok() => {
                    p { "Status: " strong #chain-status.ok { "verified" } " (" (v.records) " records)" }
                    p { "Head: " span #chain-head { "record " (v.head.seq) ", " code { (v.head.hash_hex()) } } }
                }
                Some(Ok(v)) => {
                    p { "Status: " strong #chain-status.bad {
                        "broken: " (v.problems.first().map(ToString::to_string).unwrap_or_default())
                        @if v.problems.len() > 1 { " (and " (v.problems.len() - 1) " more)" }
                    } }
                    p { "Head: " span #chain-head { "record " (v.head.seq) ", " code { (v.head.hash_hex()) } } }
                }
                Some(Err(e)) => {
                    p { "Status: " strong #chain-status.bad { "not verified: " (e.message()) } }
                }
                None => {
                    p { "Status: " span #chain-status { "not shown: only the SO and the token owner verify the chain" } }
                }
            }
        }
        section #records aria-labelledby="records-h" {
            h2 #records-h { "Records" }
            @if kept.len() > MAX_ROWS {
                p { "The newest " (MAX_ROWS) " of " (kept.len()) " records; narrow the filter to see others." }
            }
            table #audit {
                thead { tr {
                    th scope="col" { "#" } th scope="col" { "Time (UTC)" } th scope="col" { "Principal" }
                    th scope="col" { "Operation" } th scope="col" { "Key" } th scope="col" { "Count" }
                    th scope="col" { "Outcome" } th scope="col" { "Reason" }
                } }
                tbody {
                    @for r in kept.iter().rev().take(MAX_ROWS) {
                        @let refused = r.result_code() != 0;
                        tr.record.refused[refused] data-outcome=(if refused { "refused" } else { "ok" })
                            data-operation=(r.function()) data-principal=(r.principal()) {
                            td { (r.seq()) }
                            td { (time(Some(Timestamp::from_unix(r.time_ms() / 1000)))) }
                            td { (r.principal()) }
                            td { (r.function()) }
                            td { @if let Some(k) = r.key_id() { code { (k) } } @if let Some(v) = r.key_version() { " v" (v) } }
                            td { (r.count()) }
                            td { @if refused { strong { "refused" } " " } (r.result_name()) }
                            td.reason { (r.reason()) }
                        }
                    }
                }
            }
        }
    };
    Page::html(200, layout(Some(who), &title, None, None, body))
}
