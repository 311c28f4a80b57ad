//! The principal and policy commands of `softkms` (`docs/policy.md`): `user
//! add|list|remove|set-pin` (as the SO) and `key set-policy`. They use the
//! same PKCS#11 calls a stock client would: objects of class
//! `CKO_SOFTKMS_PRINCIPAL` and writes of `CKA_SOFTKMS_POLICY`.

use super::{env_pin, fail, flag, json_str, out, read_text, session, Opts};
use cryptoki_sys::*;
use softkms::abi::CKA_SOFTKMS_POLICY;
use softkms::kms::policy::{self, CKA_SOFTKMS_POLICY_FORCE};
use softkms::kms::principals::{self, CKA_SOFTKMS_PRINCIPAL_PIN, CKO_SOFTKMS_PRINCIPAL};
use softkms::module::Module;
use softkms::object::attr::Attribute;
use softkms::object::rules::AttrRead;

/// A read-write session with the SO logged in (`SOFTKMS_SO_PIN`).
fn so_session(m: &Module, slot: CK_SLOT_ID) -> Result<CK_SESSION_HANDLE, String> {
    let h = session(m, slot, false)?;
    let pin = env_pin("SOFTKMS_SO_PIN")?;
    m.login(h, CKU_SO, &pin, None).map_err(fail)?;
    Ok(h)
}

/// The principal objects, optionally only the one named `name`.
fn find_principals(
    m: &Module,
    h: CK_SESSION_HANDLE,
    name: Option<&str>,
) -> Result<Vec<CK_OBJECT_HANDLE>, String> {
    let mut t = vec![Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_PRINCIPAL)];
    if let Some(n) = name {
        t.push(Attribute::new(CKA_LABEL, n.as_bytes().to_vec()));
    }
    m.find_init(h, &t).map_err(fail)?;
    let mut found = Vec::new();
    loop {
        let more = m.find(h, 64).map_err(fail)?;
        if more.is_empty() {
            break;
        }
        found.extend(more);
    }
    m.find_final(h).map_err(fail)?;
    Ok(found)
}

fn find_principal(
    m: &Module,
    h: CK_SESSION_HANDLE,
    name: &str,
) -> Result<CK_OBJECT_HANDLE, String> {
    match find_principals(m, h, Some(name))?.as_slice() {
        [p] => Ok(*p),
        [] => Err(format!("no principal named {name:?}")),
        _ => Err(format!("more than one principal is named {name:?}")),
    }
}

fn name_arg<'a>(o: &'a Opts, verb: &str) -> Result<&'a str, String> {
    let name = o
        .words
        .get(2)
        .ok_or_else(|| format!("user {verb} needs a NAME"))?;
    principals::check_name(name).map_err(|why| format!("{name:?}: {why}"))?;
    Ok(name)
}

/// `user add NAME` (PIN from `SOFTKMS_NEW_PIN`).
fn add(m: &Module, o: &Opts) -> Result<(), String> {
    let name = name_arg(o, "add")?;
    let pin = env_pin("SOFTKMS_NEW_PIN")?;
    let h = so_session(m, o.slot)?;
    let mut t = principals::stored_template(name);
    t.push(Attribute::new(CKA_SOFTKMS_PRINCIPAL_PIN, pin.to_vec()));
    m.create_object(h, &t).map_err(fail)?;
    if o.json {
        emit!("{{\"added\":{}}}", json_str(name));
    } else {
        emit!("principal {name:?} added");
    }
    Ok(())
}

/// `user list`: the named principals (public objects: no login needed).
fn list(m: &Module, o: &Opts) -> Result<(), String> {
    let h = session(m, o.slot, false)?;
    let mut names: Vec<String> = find_principals(m, h, None)?
        .into_iter()
        .map(|p| read_text(m, h, p, CKA_LABEL))
        .collect();
    names.sort();
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
fn remove(m: &Module, o: &Opts) -> Result<(), String> {
    let name = name_arg(o, "remove")?;
    let h = so_session(m, o.slot)?;
    let p = find_principal(m, h, name)?;
    m.destroy_object(h, p).map_err(fail)?;
    if o.json {
        emit!("{{\"removed\":{}}}", json_str(name));
    } else {
        emit!("principal {name:?} removed");
    }
    Ok(())
}

/// `user set-pin NAME` (new PIN from `SOFTKMS_NEW_PIN`; clears a lock-out).
fn set_pin(m: &Module, o: &Opts) -> Result<(), String> {
    let name = name_arg(o, "set-pin")?;
    let pin = env_pin("SOFTKMS_NEW_PIN")?;
    let h = so_session(m, o.slot)?;
    let p = find_principal(m, h, name)?;
    let t = vec![Attribute::new(CKA_SOFTKMS_PRINCIPAL_PIN, pin.to_vec())];
    m.set_attributes(h, p, &t).map_err(fail)?;
    if o.json {
        emit!("{{\"pin_set\":{}}}", json_str(name));
    } else {
        emit!("the PIN of principal {name:?} is set");
    }
    Ok(())
}

/// `user add|list|remove|set-pin`.
pub(super) fn user(m: &Module, o: &Opts, verb: &str) -> Result<(), String> {
    match verb {
        "add" => add(m, o),
        "list" => list(m, o),
        "remove" => remove(m, o),
        "set-pin" => set_pin(m, o),
        other => Err(format!(
            "unknown command user {other} (add, list, remove, set-pin)"
        )),
    }
}

/// `key set-policy NAME --policy FILE [--force]`: checks the policy here first,
/// for a readable error, then writes it as the logged-in principal.
pub(super) fn set_policy(m: &Module, o: &Opts) -> Result<(), String> {
    let name = o.words.get(2).ok_or("key set-policy needs a NAME")?;
    let file = flag(&o.words, "--policy").ok_or("key set-policy needs --policy FILE")?;
    let force = o.words.iter().any(|w| w == "--force");
    let json = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
    let parsed = policy::explain(&json).map_err(|why| format!("{file}: {why}"))?;
    if policy::check_set(&parsed, force).is_err() {
        return Err(format!(
            "{file}: no principal could change this policy again (nobody has SetPolicy \
             without a condition); add --force to set it anyway"
        ));
    }
    let h = session(m, o.slot, true)?;
    let k = super::kms::find_key(m, h, name)?;
    let mut t = vec![Attribute::new(CKA_SOFTKMS_POLICY, json)];
    if force {
        t.push(Attribute::bool(CKA_SOFTKMS_POLICY_FORCE, true));
    }
    m.set_attributes(h, k, &t).map_err(fail)?;
    let stored = policy_json(m, h, k);
    if o.json {
        emit!("{{\"policy_set\":{},\"policy\":{stored}}}", json_str(name));
    } else {
        emit!("the policy of key {name:?} is set");
    }
    Ok(())
}

/// The `"policy"` field of `key show`: the policy as JSON, `null` for the
/// default policy (no `CKA_SOFTKMS_POLICY`), or the raw text when it is not
/// JSON (which the module never accepts).
pub(super) fn policy_json(
    m: &Module,
    h: CK_SESSION_HANDLE,
    k: CK_OBJECT_HANDLE,
) -> serde_json::Value {
    match m
        .get_attributes(h, k, &[CKA_SOFTKMS_POLICY])
        .ok()
        .and_then(|mut v| v.pop())
    {
        Some(AttrRead::Value(v)) => serde_json::from_slice(&v).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&v).into_owned())
        }),
        _ => serde_json::Value::Null,
    }
}
