//! The keys table, the key page and their actions. Pages read through the
//! safe API on a session acting for the signed-in principal; every change
//! is the AWS operation of the same name, run and recorded as the AWS API
//! runs it (`http::run_recorded`), so the key gate, the policies and the
//! audit log see a console action as they see an API request.

use super::html::{self, csrf, layout, time};
use super::{encode, Page, Req, Who, PREFIX};
use crate::api::{KeyMetadata, KeyRef, KeySpec, KeyState, Token};
use crate::serve::errors::AwsError;
use crate::serve::input::Input;
use crate::serve::names::{aws_key_id, key_id_of};
use crate::serve::ops::Call;
use crate::serve::State;
use maud::{html, Markup};
use serde_json::{json, Value};

/// The shortest and longest automatic rotation periods (days, as AWS).
const ROTATION_DAYS: (u64, u64) = (90, 2560);
/// The shortest and longest deletion waiting periods (days, as AWS).
const DELETION_DAYS: (u64, u64) = (7, 30);
/// What the user types to confirm a deletion.
const CONFIRM_WORD: &str = "delete";
/// The key usages offered at creation.
const USAGES: &[&str] = &[
    "ENCRYPT_DECRYPT",
    "SIGN_VERIFY",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];

/// A session of the token of its own, the token owner's as the server's
/// (for the SO's reads: the server's own session authenticates API
/// requests and is not held for them).
pub(crate) fn owner_session(state: &State, who: &Who) -> Result<Token, Page> {
    state.kms.token(state.settings.slot).map_err(|e| {
        log::error!("console: cannot open a session: {e}");
        html::error_page(
            500,
            Some(who),
            "Internal error",
            "The token could not be opened.",
        )
    })
}

/// A session of the token acting for `who`.
pub(crate) fn session(state: &State, who: &Who) -> Result<Token, Page> {
    let token = owner_session(state, who)?;
    token.act_as(&who.principal).map_err(|e| {
        log::warn!("console: {} cannot act: {e}", who.principal.name());
        html::forbidden(Some(who), "This principal no longer exists: sign in again.")
    })?;
    Ok(token)
}

/// Runs a read-only AWS operation (not recorded: it changes nothing).
pub(crate) fn read(
    state: &State,
    token: &Token,
    who: &Who,
    op: &str,
    input: &Value,
) -> Result<Value, AwsError> {
    let input = Input::parse(&serde_json::to_vec(input).unwrap_or_default())?;
    call(state, token, who).run(op, &input)
}

/// An AWS operation's call on `token` for `who`.
pub(crate) fn call<'a>(state: &'a State, token: &'a Token, who: &'a Who) -> Call<'a> {
    Call {
        token,
        principal: &who.principal,
        naming: &state.settings.naming,
        key: None,
        alias: None,
        policy_writes: &state.policy_writes,
    }
}

/// Runs an AWS operation that changes something, recorded in the audit log
/// as the console session's.
pub(crate) fn write(
    state: &State,
    token: &Token,
    who: &Who,
    req: &Req,
    op: &str,
    input: &Value,
) -> Result<Value, AwsError> {
    let bytes = serde_json::to_vec(input).unwrap_or_default();
    crate::serve::http::run_recorded(
        state,
        token,
        &who.principal,
        op,
        Input::parse(&bytes),
        &who.via(req),
    )
}

/// The page of a refusal by the server: 403 for access denied, 404 for an
/// unknown key, the API's status otherwise.
pub(crate) fn refused(who: &Who, e: &AwsError) -> Page {
    let status = match e.kind {
        "AccessDeniedException" => 403,
        "NotFoundException" => 404,
        _ => e.status,
    };
    let title = match status {
        403 => "Not allowed",
        404 => "Not found",
        500 => "Internal error",
        _ => "Refused",
    };
    html::error_page(
        status,
        Some(who),
        title,
        &format!("{}: {}", e.kind, e.message),
    )
}

/// `/console/keys…`.
pub(crate) fn route(state: &State, who: &Who, req: &Req, rest: &str) -> Page {
    let token = match session(state, who) {
        Ok(t) => t,
        Err(p) => return p,
    };
    match (rest, req.post) {
        ("", false) => list(state, &token, who, req),
        ("", true) => create(state, &token, who, req),
        ("/new", false) => Page::html(200, new_key(who, None)),
        _ => {
            let rest = rest.trim_start_matches('/');
            let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
            let Some(kid) = key_id_of(id) else {
                return html::not_found(Some(who));
            };
            let m = match token.describe_key(&KeyRef::Id(kid)) {
                Ok(m) => m,
                Err(e) => return refused(who, &AwsError::from(e)),
            };
            key_route(state, &token, who, req, &m, action)
        }
    }
}

/// The actions of one key.
fn key_route(
    state: &State,
    token: &Token,
    who: &Who,
    req: &Req,
    m: &KeyMetadata,
    action: &str,
) -> Page {
    let id = aws_key_id(&m.id);
    match (action, req.post) {
        ("", false) => key_page(state, token, who, req, m),
        ("policy", false) => super::policy::page(state, token, who, m, None, None),
        ("policy", true) => super::policy::put(state, token, who, req, m),
        ("delete", false) => delete_page(who, m, None),
        ("audit", false) => super::audit::page(state, who, req, Some(m)),
        (_, false) => html::not_found(Some(who)),
        (action, true) => {
            let key = json!({ "KeyId": id });
            let form = &req.form;
            let (op, input, done) = match action {
                "rotate" => ("RotateKeyOnDemand", key, "rotated"),
                "enable" => ("EnableKey", key, "enabled"),
                "disable" => ("DisableKey", key, "disabled"),
                "cancel-deletion" => ("CancelKeyDeletion", key, "deletion-cancelled"),
                "rotation" if form.get("enabled").is_some() => {
                    let days = match number(form.text("period"), ROTATION_DAYS, "period") {
                        Ok(d) => d,
                        Err(e) => return html::bad_request(Some(who), &e),
                    };
                    (
                        "EnableKeyRotation",
                        json!({ "KeyId": id, "RotationPeriodInDays": days }),
                        "rotation-on",
                    )
                }
                "rotation" => ("DisableKeyRotation", key, "rotation-off"),
                "delete" => {
                    let days = match number(form.text("days"), DELETION_DAYS, "waiting period") {
                        Ok(d) => d,
                        Err(e) => return delete_page(who, m, Some(&e)),
                    };
                    if form.text("confirm") != CONFIRM_WORD {
                        return delete_page(
                            who,
                            m,
                            Some(&format!(
                                "Type {CONFIRM_WORD} to confirm: nothing was scheduled."
                            )),
                        );
                    }
                    (
                        "ScheduleKeyDeletion",
                        json!({ "KeyId": id, "PendingWindowInDays": days }),
                        "deletion-scheduled",
                    )
                }
                "aliases" => {
                    let name = form.text("alias").trim_start_matches("alias/");
                    (
                        "CreateAlias",
                        json!({ "AliasName": format!("alias/{name}"), "TargetKeyId": id }),
                        "alias-added",
                    )
                }
                "aliases/remove" => {
                    let name = form.text("alias");
                    let ours = token
                        .list_aliases(Some(&KeyRef::Id(m.id.clone())))
                        .unwrap_or_default()
                        .iter()
                        .any(|a| a.name == name);
                    if !ours {
                        return html::bad_request(Some(who), "This key has no such alias.");
                    }
                    ("DeleteAlias", json!({ "AliasName": name }), "alias-removed")
                }
                "tags" => (
                    "TagResource",
                    json!({ "KeyId": id, "Tags": [{
                        "TagKey": form.text("tag_key"),
                        "TagValue": form.get("tag_value").unwrap_or(""),
                    }]}),
                    "tag-added",
                ),
                "tags/remove" => (
                    "UntagResource",
                    json!({ "KeyId": id, "TagKeys": [form.text("tag_key")] }),
                    "tag-removed",
                ),
                _ => return html::not_found(Some(who)),
            };
            match write(state, token, who, req, op, &input) {
                Ok(_) => Page::redirect(&format!("/keys/{}?done={done}", encode(&id))),
                Err(e) => refused(who, &e),
            }
        }
    }
}

/// A whole number of days in `range`, or why not.
fn number(text: &str, range: (u64, u64), what: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (range.0..=range.1).contains(&n) => Ok(n),
        _ => Err(format!(
            "The {what} is a number of days from {} to {}.",
            range.0, range.1
        )),
    }
}

/// The notice after an action (`?done=`): fixed texts only, nothing of
/// the query is shown.
fn notice(req: &Req) -> Option<&'static str> {
    Some(match req.query.get("done")? {
        "created" => "The key was created.",
        "rotated" => "The key was rotated: new encryptions use the new version.",
        "enabled" => "The key was enabled.",
        "disabled" => "The key was disabled: it can be used for nothing until it is enabled.",
        "deletion-scheduled" => "The key's deletion was scheduled.",
        "deletion-cancelled" => "The deletion was cancelled; the key stays disabled until enabled.",
        "rotation-on" => "Automatic rotation is on.",
        "rotation-off" => "Automatic rotation is off.",
        "alias-added" => "The alias was added.",
        "alias-removed" => "The alias was removed.",
        "tag-added" => "The tag was set.",
        "tag-removed" => "The tag was removed.",
        "policy-saved" => "The key policy was saved.",
        _ => return None,
    })
}

/// The spec name the pages show (AWS's).
fn spec_name(m: &KeyMetadata) -> String {
    m.spec
        .and_then(KeySpec::aws_name)
        .map_or_else(|| m.spec_name.to_ascii_uppercase(), str::to_string)
}

fn usage_name(m: &KeyMetadata) -> String {
    m.usages
        .iter()
        .map(|u| u.aws_name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn state_name(m: &KeyMetadata) -> &'static str {
    m.state.map_or("Enabled", KeyState::name)
}

/// The rotation cell: `every N days, next DATE`, or `off`.
fn rotation(m: &KeyMetadata) -> String {
    match m.rotation_period_days {
        Some(d) => format!("every {d} days, next {}", time(m.next_rotation)),
        None => "off".to_string(),
    }
}

/// One row of the keys table.
struct Row {
    m: KeyMetadata,
    id: String,
    aliases: Vec<String>,
}

impl Row {
    /// The value of column `col` that sorting compares.
    fn sort_key(&self, col: &str) -> (String, i64) {
        let t = |x: Option<crate::api::Timestamp>| x.map_or(i64::MAX, |t| t.unix());
        match col {
            "alias" => (self.aliases.first().cloned().unwrap_or_default(), 0),
            "spec" => (spec_name(&self.m), 0),
            "usage" => (usage_name(&self.m), 0),
            "state" => (state_name(&self.m).to_string(), 0),
            "version" => (
                String::new(),
                i64::try_from(self.m.current_version.unwrap_or(0)).unwrap_or(i64::MAX),
            ),
            "rotation" => (String::new(), t(self.m.next_rotation)),
            "deletion" => (String::new(), t(self.m.deletion_time)),
            _ => (self.id.clone(), 0),
        }
    }

    /// Whether the filter text `q` (lower case) is in any shown cell.
    fn matches(&self, q: &str) -> bool {
        if q.is_empty() {
            return true;
        }
        let mut cells = vec![
            self.id.clone(),
            spec_name(&self.m),
            usage_name(&self.m),
            state_name(&self.m).to_string(),
            self.m.description.clone().unwrap_or_default(),
        ];
        cells.extend(self.aliases.iter().cloned());
        cells.extend(self.m.tags.iter().map(|(k, v)| format!("{k}={v}")));
        cells.iter().any(|c| c.to_lowercase().contains(q))
    }
}

const COLUMNS: &[(&str, &str)] = &[
    ("alias", "Aliases"),
    ("id", "Key id"),
    ("spec", "Spec"),
    ("usage", "Usage"),
    ("state", "State"),
    ("version", "Current version"),
    ("rotation", "Next rotation"),
    ("deletion", "Deletion date"),
];

/// `GET /console/keys`: the keys this principal sees, filtered and sorted.
fn list(state: &State, token: &Token, who: &Who, req: &Req) -> Page {
    let _ = state;
    let keys = match token.list_keys() {
        Ok(k) => k,
        Err(e) => return refused(who, &AwsError::from(e)),
    };
    let aliases = token.list_aliases(None).unwrap_or_default();
    let q = req.query.text("q").to_lowercase();
    let col = req.query.text("sort");
    let col = COLUMNS
        .iter()
        .find(|(c, _)| *c == col)
        .map_or("alias", |(c, _)| *c);
    let desc = req.query.get("dir") == Some("desc");
    let mut rows: Vec<Row> = keys
        .into_iter()
        .map(|m| Row {
            id: aws_key_id(&m.id),
            aliases: aliases
                .iter()
                .filter(|a| a.target_key_id == m.id)
                .map(|a| a.name.clone())
                .collect(),
            m,
        })
        .filter(|r| r.matches(&q))
        .collect();
    rows.sort_by(|a, b| {
        let o = a.sort_key(col).cmp(&b.sort_key(col));
        if desc {
            o.reverse()
        } else {
            o
        }
    });
    let qv = req.query.text("q");
    let sort_link = |c: &str| {
        let dir = if c == col && !desc { "desc" } else { "asc" };
        format!("{PREFIX}/keys?q={}&sort={c}&dir={dir}", encode(qv))
    };
    let body = html! {
        p { a #create-key .button href={ (PREFIX) "/keys/new" } { "Create key" } }
        form #filter-form method="get" action={ (PREFIX) "/keys" } role="search" {
            label for="q" { "Filter" }
            input #q type="search" name="q" value=(qv) placeholder="alias, id, spec, state, tag…";
            input type="hidden" name="sort" value=(col);
            input type="hidden" name="dir" value=(if desc { "desc" } else { "asc" });
            button type="submit" { "Filter" }
        }
        p.count { (rows.len()) " keys" }
        table #keys {
            caption.visually-hidden { "Keys, sorted by " (col) }
            thead { tr {
                @for (c, name) in COLUMNS {
                    th scope="col" aria-sort=(if *c == col { if desc { "descending" } else { "ascending" } } else { "none" }) {
                        a class={ "sort-" (c) } href=(sort_link(c)) {
                            (name)
                            @if *c == col { (if desc { " ▼" } else { " ▲" }) }
                        }
                    }
                }
                th scope="col" { "Tags" }
            } }
            tbody {
                @for r in &rows {
                    tr.key data-key-id=(r.id) {
                        td { @for a in &r.aliases { (a) br; } }
                        td { a.key-link href={ (PREFIX) "/keys/" (encode(&r.id)) } { code { (r.id) } } }
                        td { (spec_name(&r.m)) }
                        td { (usage_name(&r.m)) }
                        td.state { (state_name(&r.m)) }
                        td { (r.m.current_version.map_or("—".to_string(), |v| v.to_string())) }
                        td { (r.m.next_rotation.map_or("—".to_string(), |t| time(Some(t)))) }
                        td { (r.m.deletion_time.map_or("—".to_string(), |t| time(Some(t)))) }
                        td { @for (k, v) in &r.m.tags { span.tag { (k) "=" (v) } " " } }
                    }
                }
            }
        }
    };
    Page::html(200, layout(Some(who), "Keys", notice(req), None, body))
}

/// `GET /console/keys/new`.
fn new_key(who: &Who, error: Option<&str>) -> Markup {
    let specs: Vec<&str> = KeySpec::all().filter_map(KeySpec::aws_name).collect();
    layout(
        Some(who),
        "Create a key",
        None,
        error,
        html! {
            form #create-form method="post" action={ (PREFIX) "/keys" } {
                (csrf(who))
                p {
                    label for="alias" { "Alias (optional): alias/" }
                    input #alias type="text" name="alias" maxlength="250" pattern="[A-Za-z0-9/_-]*";
                }
                p {
                    label for="description" { "Description (optional)" }
                    input #description type="text" name="description" maxlength="8192";
                }
                p {
                    label for="spec" { "Key spec" }
                    select #spec name="spec" {
                        @for s in &specs {
                            option value=(s) selected[*s == "SYMMETRIC_DEFAULT"] { (s) }
                        }
                    }
                }
                p {
                    label for="usage" { "Key usage" }
                    select #usage name="usage" {
                        option value="" selected { "the spec's default" }
                        @for u in USAGES { option value=(u) { (u) } }
                    }
                }
                p {
                    input #rotation type="checkbox" name="rotation" value="on";
                    label for="rotation" { " Rotate automatically every 365 days (symmetric keys)" }
                }
                p.hint { "The key's policy is the default one: you (its creator) and the token owner may do everything with it." }
                button #create type="submit" { "Create key" }
            }
        },
    )
}

/// `POST /console/keys`: CreateKey, then the alias and rotation asked for.
fn create(state: &State, token: &Token, who: &Who, req: &Req) -> Page {
    let f = &req.form;
    let mut input = json!({ "KeySpec": f.text("spec") });
    if !f.text("usage").is_empty() {
        input["KeyUsage"] = json!(f.text("usage"));
    }
    if !f.text("description").is_empty() {
        input["Description"] = json!(f.text("description"));
    }
    let made = match write(state, token, who, req, "CreateKey", &input) {
        Ok(v) => v,
        Err(e) => {
            let status = refused(who, &e).status;
            let message = format!("{}: {}", e.kind, e.message);
            return Page::html(status, new_key(who, Some(&message)));
        }
    };
    let id = made["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let alias = f.text("alias").trim_start_matches("alias/");
    if !alias.is_empty() {
        let a = json!({ "AliasName": format!("alias/{alias}"), "TargetKeyId": id });
        if let Err(e) = write(state, token, who, req, "CreateAlias", &a) {
            return refused(who, &e);
        }
    }
    if f.get("rotation").is_some() {
        if let Err(e) = write(
            state,
            token,
            who,
            req,
            "EnableKeyRotation",
            &json!({ "KeyId": id }),
        ) {
            return refused(who, &e);
        }
    }
    Page::redirect(&format!("/keys/{}?done=created", encode(&id)))
}

/// A form that posts `action` to the key's `path`, with one button.
fn action_form(
    who: &Who,
    id: &str,
    form_id: &str,
    path: &str,
    button_id: &str,
    label: &str,
) -> Markup {
    html! {
        form.action id=(form_id) method="post" action={ (PREFIX) "/keys/" (encode(id)) "/" (path) } {
            (csrf(who))
            button id=(button_id) type="submit" { (label) }
        }
    }
}

/// `GET /console/keys/ID`.
fn key_page(state: &State, token: &Token, who: &Who, req: &Req, m: &KeyMetadata) -> Page {
    let id = aws_key_id(&m.id);
    let key = json!({ "KeyId": id });
    let policy = read(state, token, who, "GetKeyPolicy", &key)
        .ok()
        .and_then(|v| v["Policy"].as_str().map(super::policy::pretty_json))
        .unwrap_or_else(|| "(not readable)".to_string());
    let grants = read(state, token, who, "ListGrants", &key)
        .ok()
        .and_then(|v| v["Grants"].as_array().cloned())
        .unwrap_or_default();
    let aliases = token
        .list_aliases(Some(&KeyRef::Id(m.id.clone())))
        .unwrap_or_default();
    let manage = m.allows(&who.principal, "ManageKey");
    let set_policy = m.allows(&who.principal, "SetPolicy");
    let audit = m.allows(&who.principal, "ReadAudit");
    let state_now = m.state.unwrap_or(KeyState::Enabled);
    let pending = state_now == KeyState::PendingDeletion;
    let title = aliases
        .first()
        .map_or_else(|| format!("Key {id}"), |a| a.name.clone());
    let body = html! {
        section #summary aria-labelledby="summary-h" {
            h2 #summary-h { "General" }
            dl {
                dt { "Key id" } dd { code #key-id { (id) } }
                dt { "ARN" } dd { code { (state.settings.naming.key_arn(&m.id)) } }
                dt { "State" } dd #key-state { (state_now.name()) }
                @if let Some(d) = m.deletion_time {
                    dt { "Deletion date" } dd #deletion-date { (time(Some(d))) }
                }
                dt { "Spec" } dd { (spec_name(m)) }
                dt { "Usage" } dd { (usage_name(m)) }
                dt { "Description" } dd { (m.description.clone().unwrap_or_default()) }
                dt { "Creator" } dd { (m.creator.clone().unwrap_or_else(|| "user".into())) }
                dt { "Current version" } dd #current-version { (m.current_version.map_or("—".to_string(), |v| v.to_string())) }
                dt { "Automatic rotation" } dd #rotation-status { (rotation(m)) }
            }
            @if audit {
                p { a #key-audit href={ (PREFIX) "/keys/" (encode(&id)) "/audit" } { "This key's audit records" } }
            }
        }
        @if m.managed || !m.versions.is_empty() {
            section #timeline aria-labelledby="versions-h" {
                h2 #versions-h { "Versions" }
                ol #versions {
                    @for v in &m.versions {
                        @let current = m.current_version == Some(v.version);
                        @let retired = m.min_decrypt_version.is_some_and(|min| v.version < min);
                        li.version.current[current].retired[retired] data-version=(v.version) {
                            strong { "Version " (v.version) }
                            " — " (if v.version == 1 { "created " } else { "made by a rotation " }) (time(v.created))
                            @if current { " · current: new encryptions use it" }
                            @if retired { " · retired: below the minimum decryption version, it decrypts nothing" }
                        }
                    }
                }
            }
        }
        @if manage {
            section #actions aria-labelledby="actions-h" {
                h2 #actions-h { "Actions" }
                div.actions {
                    @if m.managed && !pending {
                        (action_form(who, &id, "rotate-form", "rotate", "rotate", "Rotate now"))
                    }
                    @match state_now {
                        KeyState::Enabled => (action_form(who, &id, "disable-form", "disable", "disable", "Disable")),
                        KeyState::Disabled => (action_form(who, &id, "enable-form", "enable", "enable", "Enable")),
                        _ => {}
                    }
                    @if pending {
                        (action_form(who, &id, "cancel-deletion-form", "cancel-deletion", "cancel-deletion", "Cancel deletion"))
                    } @else {
                        a #schedule-deletion .button.danger href={ (PREFIX) "/keys/" (encode(&id)) "/delete" } { "Schedule deletion…" }
                    }
                }
                @if m.managed && !pending {
                    form #rotation-form .action method="post" action={ (PREFIX) "/keys/" (encode(&id)) "/rotation" } {
                        (csrf(who))
                        fieldset {
                            legend { "Automatic rotation" }
                            input #rotation-enabled type="checkbox" name="enabled" value="on" checked[m.rotation_period_days.is_some()];
                            label for="rotation-enabled" { " Rotate automatically" }
                            " "
                            label for="rotation-period" { "every" }
                            input #rotation-period type="number" name="period" min=(ROTATION_DAYS.0) max=(ROTATION_DAYS.1)
                                value=(m.rotation_period_days.unwrap_or(365));
                            " days "
                            button #rotation-save type="submit" { "Save" }
                        }
                    }
                }
            }
        }
        section #aliases-section aria-labelledby="aliases-h" {
            h2 #aliases-h { "Aliases" }
            ul #aliases {
                @for a in &aliases {
                    li {
                        code { (a.name) }
                        @if manage {
                            form.alias-remove.action.inline method="post" action={ (PREFIX) "/keys/" (encode(&id)) "/aliases/remove" } {
                                (csrf(who))
                                input type="hidden" name="alias" value=(a.name);
                                button.alias-remove-button type="submit" aria-label={ "Remove " (a.name) } { "Remove" }
                            }
                        }
                    }
                }
            }
            @if manage {
                form #alias-add-form .action method="post" action={ (PREFIX) "/keys/" (encode(&id)) "/aliases" } {
                    (csrf(who))
                    label for="new-alias" { "New alias: alias/" }
                    input #new-alias type="text" name="alias" required maxlength="250" pattern="[A-Za-z0-9/_-]+";
                    button #alias-add type="submit" { "Add alias" }
                }
            }
        }
        section #tags-section aria-labelledby="tags-h" {
            h2 #tags-h { "Tags" }
            table #tags {
                thead { tr { th scope="col" { "Key" } th scope="col" { "Value" } @if manage { th scope="col" { span.visually-hidden { "Remove" } } } } }
                tbody {
                    @for (k, v) in &m.tags {
                        tr {
                            td { (k) } td { (v) }
                            @if manage {
                                td {
                                    form.tag-remove.action.inline method="post" action={ (PREFIX) "/keys/" (encode(&id)) "/tags/remove" } {
                                        (csrf(who))
                                        input type="hidden" name="tag_key" value=(k);
                                        button type="submit" aria-label={ "Remove tag " (k) } { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if manage {
                form #tag-add-form .action method="post" action={ (PREFIX) "/keys/" (encode(&id)) "/tags" } {
                    (csrf(who))
                    label for="tag-key" { "Tag key" }
                    input #tag-key type="text" name="tag_key" required maxlength="128";
                    label for="tag-value" { "Value" }
                    input #tag-value type="text" name="tag_value" maxlength="256";
                    button #tag-add type="submit" { "Set tag" }
                }
            }
        }
        section #policy-section aria-labelledby="policy-h" {
            h2 #policy-h { "Key policy" }
            @if set_policy {
                p { a #edit-policy href={ (PREFIX) "/keys/" (encode(&id)) "/policy" } { "Edit the policy" } }
            }
            pre #policy-text { (policy) }
        }
        section #grants-section aria-labelledby="grants-h" {
            h2 #grants-h { "Grants" }
            @if grants.is_empty() {
                p #no-grants { "No grants." }
            } @else {
                table #grants {
                    thead { tr { th scope="col" { "Grant id" } th scope="col" { "Name" } th scope="col" { "Grantee" } th scope="col" { "Operations" } th scope="col" { "Retiring principal" } } }
                    tbody {
                        @for g in &grants {
                            tr {
                                td { code { (g["GrantId"].as_str().unwrap_or("")) } }
                                td { (g["Name"].as_str().unwrap_or("")) }
                                td { (g["GranteePrincipal"].as_str().unwrap_or("")) }
                                td { (g["Operations"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                                td { (g["RetiringPrincipal"].as_str().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Page::html(200, layout(Some(who), &title, notice(req), None, body))
}

/// `GET /console/keys/ID/delete`: the waiting period and the typed
/// confirmation.
fn delete_page(who: &Who, m: &KeyMetadata, error: Option<&str>) -> Page {
    let id = aws_key_id(&m.id);
    if !m.allows(&who.principal, "ManageKey") {
        return html::forbidden(Some(who), "The key's policy does not let you manage it.");
    }
    let now = crate::api::Timestamp::now().unix();
    let on = |days: u64| {
        let secs = i64::try_from(days * 86_400).unwrap_or(0);
        time(Some(crate::api::Timestamp::from_unix(now + secs)))
    };
    let body = html! {
        p {
            "After the waiting period the key and all its versions are destroyed: what they "
            "encrypted can never be decrypted again. Until then the key is unusable, and the "
            "deletion can be cancelled."
        }
        form #delete-form .action method="post" action={ (PREFIX) "/keys/" (encode(&id)) "/delete" } {
            (csrf(who))
            p {
                label for="days" { "Waiting period (days, " (DELETION_DAYS.0) "–" (DELETION_DAYS.1) ")" }
                input #days type="number" name="days" min=(DELETION_DAYS.0) max=(DELETION_DAYS.1) value=(DELETION_DAYS.1) required;
            }
            p #deletion-dates {
                "With " (DELETION_DAYS.1) " days the key is deleted on " strong { (on(DELETION_DAYS.1)) }
                "; with " (DELETION_DAYS.0) " days on " strong { (on(DELETION_DAYS.0)) } "."
            }
            p {
                label for="confirm" { "Type " strong { (CONFIRM_WORD) } " to confirm" }
                input #confirm type="text" name="confirm" required autocomplete="off";
            }
            button #schedule .danger type="submit" { "Schedule deletion" }
            " "
            a href={ (PREFIX) "/keys/" (encode(&id)) } { "Cancel" }
        }
    };
    let status = if error.is_some() { 400 } else { 200 };
    Page::html(
        status,
        layout(
            Some(who),
            &format!("Schedule the deletion of {id}"),
            None,
            error,
            body,
        ),
    )
}
