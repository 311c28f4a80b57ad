//! The SO's pages: the principals with their lock-out state and PIN reset,
//! and the access keys of the AWS API (create, make inactive or active).
//!
//! The server runs them on the token owner's session, on the authority of
//! the SO the console signed in; a PIN reset needs the SO's PIN again, which
//! the module checks. Each change is recorded in the audit log as the SO's.

use super::html::{self, csrf, layout, time};
use super::{encode, Page, Req, Who, PREFIX};
use crate::api::{Pin, Principal, PrincipalName};
use crate::serve::State;
use maud::html;

/// `/console/principals…` and `/console/access-keys…` (the SO only).
pub(crate) fn route(state: &State, who: &Who, req: &Req, path: &str) -> Page {
    match (path, req.post) {
        ("/principals", false) => principals(state, who, req, None, None),
        ("/access-keys", false) => access_keys(state, who, None, None),
        ("/access-keys", true) => create_access_key(state, who, req),
        (p, true) => {
            if let Some(name) = p
                .strip_prefix("/principals/")
                .and_then(|r| r.strip_suffix("/pin"))
            {
                return reset_pin(state, who, req, name);
            }
            if let Some(rest) = p.strip_prefix("/access-keys/") {
                let active = match rest.rsplit_once('/') {
                    Some((id, "enable")) => Some((id, true)),
                    Some((id, "disable")) => Some((id, false)),
                    _ => None,
                };
                if let Some((id, active)) = active {
                    return set_active(state, who, req, id, active);
                }
            }
            html::not_found(Some(who))
        }
        _ => html::not_found(Some(who)),
    }
}

/// What a second check of the SO's PIN meanwhile says.
const BUSY: &str = "Another check of the SO PIN is running: try again in a moment.";

/// Records an SO action on the owner's session.
fn record(state: &State, who: &Who, req: &Req, operation: &str, rv: u64, outcome: &str) {
    let reason = format!("{}; {outcome}", who.via(req));
    if let Err(e) = state
        .anchor
        .record_request_for(&who.principal, operation, rv, &reason)
    {
        log::error!("console: cannot audit {operation}: {e}");
    }
}

/// The PKCS#11 code of an API error, for the audit record.
fn rv_of(e: &crate::api::Error) -> u64 {
    e.pkcs11_rv().unwrap_or(0x6)
}

/// `GET /console/principals`.
fn principals(
    state: &State,
    who: &Who,
    req: &Req,
    notice: Option<&str>,
    error: Option<(u16, &str)>,
) -> Page {
    let mut names = vec!["user".to_string()];
    match state.anchor.list_principals() {
        Ok(n) => names.extend(n),
        Err(e) => return html::error_page(500, Some(who), "Principals", e.message()),
    }
    let notice = notice.or(match req.query.get("done") {
        Some("pin-reset") => Some("The PIN was set and the principal's lock-out cleared."),
        _ => None,
    });
    let rows: Vec<(String, Option<crate::api::PinStatus>)> = names
        .into_iter()
        .map(|n| {
            let p = if n == "user" {
                Principal::User
            } else {
                Principal::Named(n.clone())
            };
            let status = state.anchor.pin_status(&p).ok();
            (n, status)
        })
        .collect();
    let body = html! {
        p { "The token owner (user) and the named principals. A principal is locked out after too many wrong PINs in a row; setting its PIN here clears that. "
            "The principals are added and removed with " code { "softkms user" } "." }
        table #principals {
            thead { tr {
                th scope="col" { "Principal" } th scope="col" { "Wrong PINs in a row" }
                th scope="col" { "Locked out" } th scope="col" { "Reset the PIN" }
            } }
            tbody {
                @for (name, status) in &rows {
                    tr.principal data-name=(name) {
                        td { (name) @if name == "user" { " (token owner)" } }
                        td { (status.and_then(|s| s.failed).map_or("—".to_string(), |n| n.to_string())) }
                        td.locked { (match status { Some(s) if s.locked() => "yes", Some(s) if s.failed.is_some() => "no", _ => "—" }) }
                        td {
                            @if name == "user" {
                                "with " code { "softkms pin init-user" }
                            } @else {
                                form.pin-reset method="post" action={ (PREFIX) "/principals/" (encode(name)) "/pin" } {
                                    (csrf(who))
                                    label for={ "new-pin-" (name) } { "New PIN" }
                                    input id={ "new-pin-" (name) } type="password" name="new_pin" required autocomplete="new-password";
                                    label for={ "new-pin2-" (name) } { "again" }
                                    input id={ "new-pin2-" (name) } type="password" name="new_pin2" required autocomplete="new-password";
                                    label for={ "so-pin-" (name) } { "Your SO PIN" }
                                    input id={ "so-pin-" (name) } type="password" name="so_pin" required autocomplete="current-password";
                                    button.pin-reset-button type="submit" { "Set PIN" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let (status, error) = error.map_or((200, None), |(s, e)| (s, Some(e)));
    Page::html(status, layout(Some(who), "Principals", notice, error, body))
}

/// `POST /console/principals/NAME/pin`.
fn reset_pin(state: &State, who: &Who, req: &Req, name: &str) -> Page {
    let Some(name) = percent_decoded(name).and_then(|n| PrincipalName::new(&n).ok()) else {
        return html::not_found(Some(who));
    };
    let f = &req.form;
    let (new, again) = (
        f.get("new_pin").unwrap_or(""),
        f.get("new_pin2").unwrap_or(""),
    );
    if new != again {
        return principals(
            state,
            who,
            req,
            None,
            Some((400, "The two new PINs differ: nothing was changed.")),
        );
    }
    // One check of the SO's PIN at a time, behind the lock-out guard.
    let Some(console) = &state.console else {
        return html::not_found(Some(who));
    };
    let Some(_checking) = super::Checking::take(console, "so") else {
        return principals(state, who, req, None, Some((429, BUSY)));
    };
    if let Err((status, why)) = super::guard(state, console, &Principal::SecurityOfficer) {
        return principals(state, who, req, None, Some((status, why)));
    }
    let new = Pin::new(new.as_bytes().to_vec());
    let so_pin = Pin::new(f.get("so_pin").unwrap_or("").as_bytes().to_vec());
    let reason = format!("{}; PIN of {}", who.via(req), name.as_str());
    match state
        .anchor
        .reset_principal_pin(&name, &new, &so_pin, &reason)
    {
        Ok(()) => {
            // Whoever signed in with the old PIN is signed out.
            if let Some(c) = &state.console {
                c.end_all(&Principal::Named(name.as_str().to_string()));
            }
            Page::redirect("/principals?done=pin-reset")
        }
        Err(e) => {
            let (status, why) = match e.kind() {
                crate::api::ErrorKind::PinIncorrect => (
                    403,
                    "Your SO PIN is wrong: nothing was changed.".to_string(),
                ),
                crate::api::ErrorKind::PinLocked => (
                    403,
                    "The SO is locked out: nothing was changed.".to_string(),
                ),
                _ => (400, format!("The PIN was not set: {}", e.message())),
            };
            principals(state, who, req, None, Some((status, &why)))
        }
    }
}

/// A path segment percent-decoded.
fn percent_decoded(segment: &str) -> Option<String> {
    let f = super::Form::parse(format!("x={segment}").as_bytes())?;
    f.get("x").map(str::to_string)
}

/// `GET /console/access-keys` (with a key just made, its secret shown once).
fn access_keys(
    state: &State,
    who: &Who,
    made: Option<(&str, &str)>,
    error: Option<(u16, &str)>,
) -> Page {
    let keys = match state.anchor.list_access_keys() {
        Ok(k) => k,
        Err(e) => return html::error_page(500, Some(who), "Access keys", e.message()),
    };
    let mut names = vec!["user".to_string()];
    names.extend(state.anchor.list_principals().unwrap_or_default());
    let body = html! {
        @if let Some((id, secret)) = made {
            section #new-access-key aria-labelledby="new-ak-h" {
                h2 #new-ak-h { "New access key" }
                p { "Copy the secret now: it is shown this once." }
                dl {
                    dt { "Access key id" } dd { code #new-ak-id { (id) } }
                    dt { "Secret access key" } dd { code #new-ak-secret { (secret) } }
                }
            }
        }
        p { "Access keys sign requests to the AWS KMS API of this server (SigV4). An inactive key is refused; it can be made active again." }
        form #access-key-create method="post" action={ (PREFIX) "/access-keys" } {
            (csrf(who))
            label for="ak-principal" { "New access key for" }
            select #ak-principal name="principal" {
                @for n in &names { option value=(n) { (n) } }
            }
            label for="ak-so-pin" { "Your SO PIN" }
            input #ak-so-pin type="password" name="so_pin" required autocomplete="current-password";
            button #ak-create type="submit" { "Create access key" }
        }
        table #access-keys {
            thead { tr {
                th scope="col" { "Access key id" } th scope="col" { "Principal" }
                th scope="col" { "Created" } th scope="col" { "Status" } th scope="col" { "Action" }
            } }
            tbody {
                @for k in &keys {
                    tr.access-key data-id=(k.id) {
                        td { code { (k.id) } }
                        td { (k.principal.name()) }
                        td { (time(Some(k.created))) }
                        td.status { (if k.active { "Active" } else { "Inactive" }) }
                        td {
                            @if k.active {
                                form.ak-disable method="post" action={ (PREFIX) "/access-keys/" (k.id) "/disable" } {
                                    (csrf(who))
                                    button type="submit" aria-label={ "Make " (k.id) " inactive" } { "Make inactive" }
                                }
                            } @else {
                                form.ak-enable method="post" action={ (PREFIX) "/access-keys/" (k.id) "/enable" } {
                                    (csrf(who))
                                    button type="submit" aria-label={ "Make " (k.id) " active" } { "Make active" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let (status, error) = error.map_or((200, None), |(s, e)| (s, Some(e)));
    Page::html(status, layout(Some(who), "Access keys", None, error, body))
}

/// `POST /console/access-keys`.
fn create_access_key(state: &State, who: &Who, req: &Req) -> Page {
    let name = req.form.text("principal");
    let principal = if name == "user" {
        Principal::User
    } else {
        match PrincipalName::new(name) {
            Ok(n) => Principal::Named(n.as_str().to_string()),
            Err(e) => return access_keys(state, who, None, Some((400, e.message()))),
        }
    };
    // An access key lets its holder act as the principal through the API:
    // the SO gives its PIN again for each (checked by the module).
    let Some(console) = &state.console else {
        return html::not_found(Some(who));
    };
    let Some(_checking) = super::Checking::take(console, "so") else {
        return access_keys(state, who, None, Some((429, BUSY)));
    };
    if let Err(refused) = super::guard(state, console, &Principal::SecurityOfficer) {
        return access_keys(state, who, None, Some(refused));
    }
    let so_pin = Pin::new(req.form.get("so_pin").unwrap_or("").as_bytes().to_vec());
    let reason = format!("{}; SO PIN check for an access key", who.via(req));
    let checked = state.kms.token(state.settings.slot).and_then(|t| {
        t.verify_pin(
            &Principal::SecurityOfficer,
            &so_pin,
            "console:CreateAccessKey",
            &reason,
        )
    });
    if let Err(e) = checked {
        let why = match e.kind() {
            crate::api::ErrorKind::PinIncorrect => "Your SO PIN is wrong: no access key was made.",
            crate::api::ErrorKind::PinLocked => "The SO is locked out: no access key was made.",
            _ => "The SO PIN could not be checked: no access key was made.",
        };
        return access_keys(state, who, None, Some((403, why)));
    }
    match state.anchor.create_access_key(&principal) {
        Ok(k) => {
            record(
                state,
                who,
                req,
                "console:CreateAccessKey",
                0,
                &format!("ok; access key {} for {}", k.info.id, principal.name()),
            );
            let secret = String::from_utf8_lossy(k.secret.as_bytes()).into_owned();
            let secret = zeroize::Zeroizing::new(secret);
            access_keys(state, who, Some((&k.info.id, &secret)), None)
        }
        Err(e) => {
            record(
                state,
                who,
                req,
                "console:CreateAccessKey",
                rv_of(&e),
                e.message(),
            );
            access_keys(state, who, None, Some((400, e.message())))
        }
    }
}

/// `POST /console/access-keys/ID/enable|disable`.
fn set_active(state: &State, who: &Who, req: &Req, id: &str, active: bool) -> Page {
    let op = if active {
        "console:EnableAccessKey"
    } else {
        "console:DisableAccessKey"
    };
    match state.anchor.set_access_key_active(id, active) {
        Ok(k) => {
            record(state, who, req, op, 0, &format!("ok; access key {}", k.id));
            Page::redirect("/access-keys")
        }
        Err(e) => {
            record(state, who, req, op, rv_of(&e), e.message());
            access_keys(state, who, None, Some((400, e.message())))
        }
    }
}
