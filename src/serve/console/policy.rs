//! The policy editor of a key: the AWS-grammar policy, the lock-out check
//! before saving (the new policy must still let its author change it), and
//! the refusal of principals whose policy does not allow SetPolicy.

use super::html::{self, csrf, layout};
use super::keys::{call, read, refused, write};
use super::{encode, Page, Req, Who, PREFIX};
use crate::api::{KeyMetadata, Token};
use crate::serve::names::aws_key_id;
use crate::serve::State;
use maud::html;
use serde_json::{json, Value};

/// A JSON text indented, or as it is when it is not JSON.
pub(crate) fn pretty_json(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

/// `GET /console/keys/ID/policy`: the editor (`text`: the document to show,
/// else the key's).
pub(crate) fn page(
    state: &State,
    token: &Token,
    who: &Who,
    m: &KeyMetadata,
    text: Option<&str>,
    error: Option<&str>,
) -> Page {
    let id = aws_key_id(&m.id);
    if !m.allows(&who.principal, "SetPolicy") && error.is_none() {
        return html::forbidden(Some(who), "The key's policy does not let you change it.");
    }
    let current = match text {
        Some(t) => t.to_string(),
        None => match read(state, token, who, "GetKeyPolicy", &json!({ "KeyId": id })) {
            Ok(v) => pretty_json(v["Policy"].as_str().unwrap_or("")),
            Err(e) => return refused(who, &e),
        },
    };
    let body = html! {
        p { "The policy in AWS's grammar (" a href="https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html" { "key policies" } "). Before saving, the console checks that the new policy still lets you change it (the lock-out check)." }
        form #policy-form method="post" action={ (PREFIX) "/keys/" (encode(&id)) "/policy" } {
            (csrf(who))
            label for="policy" { "Policy (JSON)" }
            textarea #policy name="policy" rows="24" cols="90" spellcheck="false" { (current) }
            p {
                button #policy-save type="submit" { "Save policy" }
                " "
                a href={ (PREFIX) "/keys/" (encode(&id)) } { "Cancel" }
            }
        }
    };
    let status = if error.is_some() { 400 } else { 200 };
    Page::html(
        status,
        layout(Some(who), &format!("Key policy of {id}"), None, error, body),
    )
}

/// `POST /console/keys/ID/policy`: the lock-out check, then PutKeyPolicy.
/// A principal whose policy does not allow SetPolicy is refused (403,
/// recorded) whatever it sent.
pub(crate) fn put(state: &State, token: &Token, who: &Who, req: &Req, m: &KeyMetadata) -> Page {
    let id = aws_key_id(&m.id);
    let doc = req.form.get("policy").unwrap_or("");
    if !m.allows(&who.principal, "SetPolicy") {
        // As the key gate would refuse it, whatever the document says.
        let why = format!(
            "the key's policy does not let {} change it",
            who.principal.name()
        );
        let reason = format!("{}; AccessDeniedException: {why}", who.via(req));
        // CKR_KEY_FUNCTION_NOT_PERMITTED, the gate's code for a policy refusal.
        if let Err(e) = token.record_request("kms:PutKeyPolicy", Some(m.id.as_str()), 0x68, &reason)
        {
            log::error!("console: cannot audit a refused policy change: {e}");
        }
        return html::forbidden(Some(who), &format!("Not allowed: {why}."));
    }
    if let Some(page) = lock_out_check(state, token, who, req, m, doc) {
        return page;
    }
    let input = json!({ "KeyId": id, "Policy": doc });
    match write(state, token, who, req, "PutKeyPolicy", &input) {
        Ok(_) => Page::redirect(&format!("/keys/{}?done=policy-saved", encode(&id))),
        Err(e) if e.kind == "MalformedPolicyDocumentException" => {
            let why = format!("The policy was not saved: {}", e.message);
            page(state, token, who, m, Some(doc), Some(&why))
        }
        Err(e) => refused(who, &e),
    }
}

/// The lock-out check: after the change, this principal must still be
/// allowed to change the policy (AWS's rule for PutKeyPolicy; the module
/// checks besides that somebody still may). The page that refuses `doc`,
/// or `None` when it passes.
fn lock_out_check(
    state: &State,
    token: &Token,
    who: &Who,
    req: &Req,
    m: &KeyMetadata,
    doc: &str,
) -> Option<Page> {
    let ours =
        match call(state, token, who).policy_from_aws(doc, &state.settings.naming.key_arn(&m.id)) {
            Ok(p) => p,
            Err(e) => {
                let why = format!("The policy was not saved: {}", e.message);
                return Some(page(state, token, who, m, Some(doc), Some(&why)));
            }
        };
    let mut after = m.clone();
    after.policy = Some(ours);
    if after.allows(&who.principal, "SetPolicy") {
        return None;
    }
    let why = format!(
        "Lock-out check: this policy would lock you out — it does not let {} change the \
         key's policy again. Nothing was saved.",
        who.principal.name()
    );
    let reason = format!("{}; refused by the console's lock-out check", who.via(req));
    // CKR_FUNCTION_FAILED, as the API's refusals without a PKCS#11 code.
    if let Err(e) = token.record_request("kms:PutKeyPolicy", Some(m.id.as_str()), 0x6, &reason) {
        log::error!("console: cannot audit a refused policy change: {e}");
    }
    Some(page(state, token, who, m, Some(doc), Some(&why)))
}
