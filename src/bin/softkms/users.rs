//! The principal and policy commands of `softkms` (`docs/policy.md`): `user
//! add|list|remove|set-pin` (as the SO) and `key set-policy`. The API makes
//! the same PKCS#11 calls a stock client would: objects of class
//! `CKO_SOFTKMS_PRINCIPAL` and writes of `CKA_SOFTKMS_POLICY`.

use super::{env_pin, fail, flag, json_str, out, session, Opts};
use softkms::api::{KeyPolicy, KeyRef, Principal, PrincipalName, Softkms, Token};

/// A session with the SO logged in (`SOFTKMS_SO_PIN`).
fn so_session(kms: &Softkms, slot: u64) -> Result<Token, String> {
    let t = session(kms, slot, false)?;
    let pin = env_pin("SOFTKMS_SO_PIN")?;
    t.login(&Principal::SecurityOfficer, &pin).map_err(fail)?;
    Ok(t)
}

fn name_arg(o: &Opts, verb: &str) -> Result<PrincipalName, String> {
    let name = o
        .words
        .get(2)
        .ok_or_else(|| format!("user {verb} needs a NAME"))?;
    PrincipalName::new(name).map_err(|why| format!("{name:?}: {why}"))
}

/// `user add NAME` (PIN from `SOFTKMS_NEW_PIN`).
fn add(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let name = name_arg(o, "add")?;
    let pin = env_pin("SOFTKMS_NEW_PIN")?;
    let t = so_session(kms, o.slot)?;
    t.add_principal(&name, &pin).map_err(fail)?;
    if o.json {
        emit!("{{\"added\":{}}}", json_str(name.as_str()));
    } else {
        emit!("principal {:?} added", name.as_str());
    }
    Ok(())
}

/// `user list`: the named principals (public objects: no login needed).
fn list(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let t = session(kms, o.slot, false)?;
    let names = t.list_principals().map_err(fail)?;
    if o.json {
        let v: Vec<serde_json::Value> = names.into_iter().map(serde_json::Value::String).collect();
        out(&serde_json::Value::Array(v).to_string());
    } else {
        for n in names {
            out(&n);
        }
    }
    Ok(())
}

/// `user remove NAME`.
fn remove(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let name = name_arg(o, "remove")?;
    let t = so_session(kms, o.slot)?;
    t.remove_principal(&name).map_err(fail)?;
    if o.json {
        emit!("{{\"removed\":{}}}", json_str(name.as_str()));
    } else {
        emit!("principal {:?} removed", name.as_str());
    }
    Ok(())
}

/// `user set-pin NAME` (new PIN from `SOFTKMS_NEW_PIN`; clears a lock-out).
fn set_pin(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let name = name_arg(o, "set-pin")?;
    let pin = env_pin("SOFTKMS_NEW_PIN")?;
    let t = so_session(kms, o.slot)?;
    t.set_principal_pin(&name, &pin).map_err(fail)?;
    if o.json {
        emit!("{{\"pin_set\":{}}}", json_str(name.as_str()));
    } else {
        emit!("the PIN of principal {:?} is set", name.as_str());
    }
    Ok(())
}

/// `user add|list|remove|set-pin`.
pub(super) fn user(kms: &Softkms, o: &Opts, verb: &str) -> Result<(), String> {
    match verb {
        "add" => add(kms, o),
        "list" => list(kms, o),
        "remove" => remove(kms, o),
        "set-pin" => set_pin(kms, o),
        other => Err(format!(
            "unknown command user {other} (add, list, remove, set-pin)"
        )),
    }
}

/// `key set-policy NAME --policy FILE [--force]`: checks the policy here first,
/// for a readable error, then writes it as the logged-in principal.
pub(super) fn set_policy(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let name = o.words.get(2).ok_or("key set-policy needs a NAME")?;
    let file = flag(&o.words, "--policy").ok_or("key set-policy needs --policy FILE")?;
    let force = o.words.iter().any(|w| w == "--force");
    let json = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
    let policy = KeyPolicy::parse(&json).map_err(|why| format!("{file}: {why}"))?;
    if !force && policy.locks_out() {
        return Err(format!(
            "{file}: no principal could change this policy again (nobody has SetPolicy \
             without a condition); add --force to set it anyway"
        ));
    }
    let t = session(kms, o.slot, true)?;
    let k = t
        .put_key_policy(&KeyRef::label(name), &policy, force)
        .map_err(fail)?;
    let stored = k
        .policy
        .as_ref()
        .map_or(serde_json::Value::Null, KeyPolicy::to_json);
    if o.json {
        emit!("{{\"policy_set\":{},\"policy\":{stored}}}", json_str(name));
    } else {
        emit!("the policy of key {name:?} is set");
    }
    Ok(())
}
