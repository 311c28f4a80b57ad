//! The principal and PIN commands of `softkms` (`docs/policy.md`): `user
//! add|list|remove|set-pin` (as the SO) and `pin change`. The API makes the
//! same PKCS#11 calls a stock client would: objects of class
//! `CKO_SOFTKMS_PRINCIPAL`, `C_SetPIN`.

use super::{env_pin, Ctx, Outcome};
use clap::Subcommand;
use softkms::api::{Error, PrincipalName};

#[derive(Subcommand)]
pub(crate) enum UserCmd {
    /// Add a principal (as the SO); its PIN from SOFTKMS_NEW_PIN or asked for.
    Add {
        /// Its name.
        name: String,
    },
    /// The named principals.
    List,
    /// Remove a principal (as the SO).
    Remove {
        /// Its name.
        name: String,
    },
    /// Set a principal's PIN (as the SO; also lifts a lock-out).
    SetPin {
        /// Its name.
        name: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum PinCmd {
    /// Change the PIN of whoever logs in: the token owner (SOFTKMS_PIN), the
    /// --user principal (SOFTKMS_PIN), or with --so the SO (SOFTKMS_SO_PIN);
    /// the new PIN from SOFTKMS_NEW_PIN or asked for twice.
    Change {
        /// Change the SO PIN.
        #[arg(long)]
        so: bool,
    },
}

fn name_arg(name: &str) -> Result<PrincipalName, Error> {
    PrincipalName::new(name)
}

fn principal_json(name: &str) -> serde_json::Value {
    serde_json::json!({ "principal": name })
}

/// `softkms user …`.
pub(crate) fn user(c: &Ctx, cmd: UserCmd) -> Outcome {
    let (name, what) = match cmd {
        UserCmd::List => {
            let t = c.session(false)?;
            let names = t.list_principals()?;
            let v: Vec<serde_json::Value> = names.iter().map(|n| principal_json(n)).collect();
            c.print(&serde_json::Value::Array(v), || names.clone());
            return Ok(true);
        }
        UserCmd::Add { name } => {
            let name = name_arg(&name)?;
            let pin = env_pin("SOFTKMS_NEW_PIN", true)?;
            c.so_session()?.add_principal(&name, &pin)?;
            (name, "added")
        }
        UserCmd::Remove { name } => {
            let name = name_arg(&name)?;
            c.so_session()?.remove_principal(&name)?;
            (name, "removed")
        }
        UserCmd::SetPin { name } => {
            let name = name_arg(&name)?;
            let pin = env_pin("SOFTKMS_NEW_PIN", true)?;
            c.so_session()?.set_principal_pin(&name, &pin)?;
            (name, "PIN set")
        }
    };
    let mut v = principal_json(name.as_str());
    v["done"] = serde_json::Value::String(what.to_string());
    c.print(&v, || {
        vec![format!("principal {:?}: {what}", name.as_str())]
    });
    Ok(true)
}

/// `softkms pin change [--so]`.
pub(crate) fn pin(c: &Ctx, cmd: PinCmd) -> Outcome {
    let PinCmd::Change { so } = cmd;
    if so && c.user.is_some() {
        return Err(super::invalid(
            "pin change --so changes the SO PIN: drop --user",
        ));
    }
    let (old_var, who) = if so {
        ("SOFTKMS_SO_PIN", "the SO".to_string())
    } else {
        let who = c.user.as_ref().map_or_else(
            || "the token owner".to_string(),
            |u| format!("principal {u:?}"),
        );
        ("SOFTKMS_PIN", who)
    };
    let t = c.session(false)?;
    let old = env_pin(old_var, false)?;
    let new = env_pin("SOFTKMS_NEW_PIN", true)?;
    let principal = if so {
        softkms::api::Principal::SecurityOfficer
    } else {
        match &c.user {
            Some(name) => softkms::api::Principal::Named(name.clone()),
            None => softkms::api::Principal::User,
        }
    };
    t.login(&principal, &old)?;
    t.change_pin(&old, &new)?;
    c.print(
        &serde_json::json!({"pin_changed": principal.name()}),
        || vec![format!("the PIN of {who} is changed")],
    );
    Ok(true)
}
