//! `softkms serve` and `softkms access-key` (`docs/serve.md`).

use super::{env_pin, invalid, Ctx, Outcome};
use clap::{Args, Subcommand};
use softkms::api::{Principal, PrincipalName};

/// `softkms serve`.
#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Where to listen: 127.0.0.1:8470 by default; an address other than
    /// loopback needs --tls-cert and --tls-key. Port 0 picks a free port.
    #[arg(long, default_value = softkms::serve::DEFAULT_LISTEN)]
    listen: std::net::SocketAddr,
    /// The region the key ARNs name.
    #[arg(long, default_value = softkms::serve::DEFAULT_REGION)]
    region: String,
    /// The 12-digit account the key ARNs name.
    #[arg(long, default_value = softkms::serve::DEFAULT_ACCOUNT)]
    account: String,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Serve PKCS#11 clients (libsoftkms.so in client mode) on this Unix
    /// socket (docs/remote-protocol.md).
    #[arg(long)]
    pkcs11_socket: Option<std::path::PathBuf>,
    /// A uid that may connect to --pkcs11-socket besides the server's own
    /// (repeat it for more).
    #[arg(long = "pkcs11-allow-uid")]
    pkcs11_allow_uid: Vec<u32>,
    /// Any local uid may connect to --pkcs11-socket (and must still log in
    /// for anything private).
    #[arg(long, conflicts_with = "pkcs11_allow_uid")]
    pkcs11_allow_any_uid: bool,
    /// Serve PKCS#11 clients over TLS on this address: needs --tls-cert,
    /// --tls-key and --pkcs11-client-ca.
    #[arg(long, requires = "pkcs11_client_ca")]
    pkcs11_listen: Option<std::net::SocketAddr>,
    /// The CA that signs the certificates of PKCS#11 clients over TLS.
    #[arg(long)]
    pkcs11_client_ca: Option<std::path::PathBuf>,
    /// Serve PKCS#11 clients only: no AWS API, no owner PIN, and the token
    /// may be uninitialized (a client initializes it with C_InitToken).
    #[arg(long)]
    pkcs11_only: bool,
    /// No web console under /console (docs/console.md).
    #[arg(long)]
    no_console: bool,
    /// Minutes without a request after which a console session ends.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1440))]
    console_idle_minutes: u64,
    /// A host name browsers use to reach the console (name or name:port;
    /// repeat it for more). IP addresses and localhost are always accepted;
    /// other names are refused, against DNS rebinding.
    #[arg(long = "console-host")]
    console_host: Vec<String>,
    /// Let the SO sign in to the console from addresses other than loopback.
    #[arg(long)]
    console_remote_so: bool,
    /// Read the owner's PIN from this file (its first line; the file must
    /// be readable by its owner alone) instead of SOFTKMS_PIN.
    #[arg(long)]
    pin_file: Option<std::path::PathBuf>,
}

/// The owner's PIN from `--pin-file`.
fn pin_from_file(path: &std::path::Path) -> Result<softkms::api::Pin, softkms::api::Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| invalid(format!("--pin-file {}: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(invalid(format!(
            "--pin-file {} is open to other users: chmod 600 it",
            path.display()
        )));
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| invalid(format!("--pin-file {}: {e}", path.display())))?,
    );
    let line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(softkms::api::Pin::new(line.to_vec()))
}

/// `softkms access-key …`: the credentials of the AWS API.
#[derive(Subcommand)]
pub(crate) enum AccessKeyCmd {
    /// Make an access key for a principal ("user" is the token owner) and
    /// print its id and secret (shown this once). Needs the owner's PIN.
    Create {
        /// The principal whose requests the key signs.
        principal: String,
    },
    /// The access keys and their principals.
    List,
    /// Delete an access key: requests signed with it are refused.
    Delete {
        /// The access key id.
        id: String,
    },
    /// Make an access key inactive: requests signed with it are refused
    /// until it is made active again.
    Disable {
        /// The access key id.
        id: String,
    },
    /// Make an inactive access key active again.
    Enable {
        /// The access key id.
        id: String,
    },
}

fn principal(name: &str) -> Result<Principal, softkms::api::Error> {
    Ok(match name {
        "user" => Principal::User,
        n => Principal::Named(PrincipalName::new(n)?.as_str().to_string()),
    })
}

/// Runs the server until SIGTERM or SIGINT.
pub(crate) fn serve(c: &Ctx, a: ServeArgs) -> Outcome {
    let settings = softkms::serve::Settings {
        listen: a.listen,
        naming: softkms::serve::Naming {
            region: a.region,
            account: a.account,
        },
        tls: match (a.tls_cert, a.tls_key) {
            (Some(cert), Some(key)) => Some(softkms::serve::TlsFiles { cert, key }),
            _ => None,
        },
        slot: c.slot,
        pkcs11: softkms::serve::Pkcs11Settings {
            socket: a.pkcs11_socket,
            allow_uids: a.pkcs11_allow_uid,
            allow_any_uid: a.pkcs11_allow_any_uid,
            listen: a.pkcs11_listen,
            client_ca: a.pkcs11_client_ca,
        },
        aws_api: !a.pkcs11_only,
        console: (!a.no_console && !a.pkcs11_only).then(|| softkms::serve::ConsoleSettings {
            idle: std::time::Duration::from_secs(a.console_idle_minutes * 60),
            hosts: a.console_host,
            remote_so: a.console_remote_so,
        }),
    };
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let pin = match (&a.pin_file, a.pkcs11_only) {
        (_, true) => None,
        (Some(f), false) => Some(pin_from_file(f)?),
        (None, false) => Some(env_pin("SOFTKMS_PIN", false)?),
    };
    softkms::serve::run(
        c.kms.clone(),
        settings,
        pin.as_ref(),
        |addr| super::out(&format!("softkms serve: listening on {scheme}://{addr}")),
        |at| super::out(&format!("softkms serve: PKCS#11 clients on {at}")),
    )
    .map_err(invalid)?;
    Ok(true)
}

/// `softkms access-key …`.
pub(crate) fn access_key(c: &Ctx, cmd: AccessKeyCmd) -> Outcome {
    let t = c.session(true)?;
    match cmd {
        AccessKeyCmd::Create { principal: name } => {
            let k = t.create_access_key(&principal(&name)?)?;
            let secret =
                zeroize::Zeroizing::new(String::from_utf8_lossy(k.secret.as_bytes()).into_owned());
            let v = serde_json::json!({
                "AccessKeyId": k.info.id,
                "SecretAccessKey": secret.as_str(),
                "Principal": k.info.principal.name(),
                "Created": k.info.created.to_rfc3339(),
            });
            c.print(&v, || {
                vec![
                    format!("access key id:     {}", k.info.id),
                    format!("secret access key: {}", secret.as_str()),
                    format!("principal:         {}", k.info.principal.name()),
                    "The secret is shown this once; SoftKMS derives it again only to check \
                     signatures."
                        .to_string(),
                ]
            });
        }
        AccessKeyCmd::List => {
            let keys = t.list_access_keys()?;
            let v: Vec<serde_json::Value> = keys
                .iter()
                .map(|k| {
                    serde_json::json!({
                        "AccessKeyId": k.id,
                        "Principal": k.principal.name(),
                        "Created": k.created.to_rfc3339(),
                        "Status": if k.active { "Active" } else { "Inactive" },
                    })
                })
                .collect();
            c.print(&serde_json::Value::Array(v), || {
                keys.iter()
                    .map(|k| {
                        format!(
                            "{}  {:<20} {}  {}",
                            k.id,
                            k.principal.name(),
                            k.created.to_rfc3339(),
                            if k.active { "active" } else { "inactive" }
                        )
                    })
                    .collect()
            });
        }
        AccessKeyCmd::Delete { id } => {
            t.delete_access_key(&id)?;
            c.print(
                &serde_json::json!({ "AccessKeyId": id, "deleted": true }),
                || vec![format!("access key {id} deleted")],
            );
        }
        AccessKeyCmd::Disable { id: ref id_ } | AccessKeyCmd::Enable { id: ref id_ } => {
            let (id, active) = (id_.clone(), matches!(cmd, AccessKeyCmd::Enable { .. }));
            let k = t.set_access_key_active(&id, active)?;
            let status = if k.active { "Active" } else { "Inactive" };
            c.print(
                &serde_json::json!({ "AccessKeyId": k.id, "Status": status }),
                || vec![format!("access key {}: {}", k.id, status.to_lowercase())],
            );
        }
    }
    Ok(true)
}
