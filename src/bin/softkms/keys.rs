//! The key and alias commands of `softkms`: create, show, list, describe,
//! tag, rotate, lifecycle, import, policy (`docs/cli.md`).

use super::{invalid, out, Ctx, Outcome};
use clap::{Args, Subcommand};
use softkms::api::{
    AliasInfo, Error, ErrorKind, KeyMetadata, KeyOptions, KeyPolicy, KeyRef, KeySpec, KeyState,
    SecretBytes, Timestamp, Token,
};
use std::collections::BTreeMap;

#[derive(Subcommand)]
pub(crate) enum KeyCmd {
    /// Create a key (AES-256 by default: a managed key with versions).
    Create(CreateArgs),
    /// Everything about one key.
    #[command(visible_alias = "describe")]
    Show {
        /// The key: label, id or alias/NAME.
        key: String,
    },
    /// The keys, with their state and current version.
    List(ListArgs),
    /// Set a key's description.
    UpdateDescription {
        /// The key.
        key: String,
        /// The new description (up to 8192 bytes; "" clears it).
        description: String,
    },
    /// Add or change tags (KEY=VALUE).
    Tag {
        /// The key.
        key: String,
        /// The tags.
        #[arg(required = true, value_parser = pair, value_name = "KEY=VALUE")]
        tags: Vec<(String, String)>,
    },
    /// Remove tags by their keys.
    Untag {
        /// The key.
        key: String,
        /// The tag keys.
        #[arg(required = true, value_name = "TAG_KEY")]
        tags: Vec<String>,
    },
    /// Turn automatic rotation on or off.
    #[command(subcommand)]
    Rotation(RotationCmd),
    /// The versions of a managed key, with their dates.
    Rotations {
        /// The key.
        key: String,
    },
    /// A new version now (managed symmetric keys).
    Rotate {
        /// The key.
        key: String,
    },
    /// Versions below N no longer decrypt (a compromised version is cut off).
    MinDecryptVersion {
        /// The key.
        key: String,
        /// The oldest version that still decrypts.
        #[arg(value_name = "N")]
        oldest: u64,
    },
    /// Enable a disabled key.
    Enable {
        /// The key.
        key: String,
    },
    /// Disable a key: every use is refused until it is enabled again.
    Disable {
        /// The key.
        key: String,
    },
    /// Schedule the key's destruction after a waiting period.
    ScheduleDeletion {
        /// The key.
        key: String,
        /// The waiting period in days (7 to 30).
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
    /// Cancel a scheduled deletion (the key comes back disabled).
    CancelDeletion {
        /// The key.
        key: String,
    },
    /// Import 32 bytes of AES-256 key material into a new (or pending-import)
    /// managed key.
    Import {
        /// The key's label.
        name: String,
        /// The file holding the material.
        #[arg(long, value_name = "FILE")]
        material: String,
        /// When the material expires (YYYY-MM-DDTHH:MM:SSZ).
        #[arg(long, value_name = "TIME")]
        valid_to: Option<String>,
    },
    /// Replace the key policy (docs/policy.md).
    SetPolicy {
        /// The key.
        key: String,
        /// The policy document (JSON).
        #[arg(long, value_name = "FILE")]
        policy: String,
        /// Accept a policy that leaves nobody able to change it again.
        #[arg(long)]
        force: bool,
    },
    /// The key policy (the default policy when none was set).
    GetPolicy {
        /// The key.
        key: String,
    },
}

#[derive(Args)]
pub(crate) struct CreateArgs {
    /// The key's name (its label), unique among the keys.
    #[arg(value_name = "NAME", required_unless_present = "label")]
    name: Option<String>,
    /// The name, as earlier releases took it.
    #[arg(long, hide = true, conflicts_with = "name")]
    label: Option<String>,
    /// The key spec: aes256 (default), aes128, hmac224..hmac512, p256, p384,
    /// p521, secp256k1, ed25519, ml-dsa-44/65/87, rsa2048/3072/4096, or AWS
    /// KMS's names (SYMMETRIC_DEFAULT, ECC_NIST_P256 …).
    #[arg(long, default_value = "aes256")]
    spec: String,
    /// A description (up to 8192 bytes).
    #[arg(long)]
    description: Option<String>,
    /// A tag (repeatable).
    #[arg(long = "tag", value_parser = pair, value_name = "KEY=VALUE")]
    tags: Vec<(String, String)>,
    /// Rotate automatically every N days (90 to 2560; managed keys).
    #[arg(long, value_name = "N")]
    rotation_days: Option<u64>,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// Only keys in this state (Enabled, Disabled, PendingDeletion,
    /// PendingImport).
    #[arg(long)]
    state: Option<String>,
    /// Only keys of this spec.
    #[arg(long)]
    spec: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum RotationCmd {
    /// Rotate automatically (every 365 days unless --days says otherwise).
    Enable {
        /// The key.
        key: String,
        /// The period in days (90 to 2560).
        #[arg(long, default_value_t = 365)]
        days: u64,
    },
    /// Stop rotating automatically.
    Disable {
        /// The key.
        key: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum AliasCmd {
    /// Name a key alias/NAME.
    Create {
        /// The alias (alias/ is added when missing).
        alias: String,
        /// The key it names.
        key: String,
    },
    /// Point an alias at another key.
    Update {
        /// The alias.
        alias: String,
        /// The key it names from now on.
        key: String,
    },
    /// Remove an alias (the key stays).
    Delete {
        /// The alias.
        alias: String,
    },
    /// The aliases, and the keys they name.
    List {
        /// Only the aliases of this key.
        #[arg(long)]
        key: Option<String>,
    },
}

/// `KEY=VALUE`, for `--context` and `--tag`.
pub(crate) fn pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// What the user typed as a key: a label, an id, or `alias/NAME`.
pub(crate) fn key_ref(s: &str) -> KeyRef {
    KeyRef::parse(s)
}

fn time_or_null(t: Option<Timestamp>) -> serde_json::Value {
    t.map_or(serde_json::Value::Null, |t| {
        serde_json::Value::String(t.to_rfc3339())
    })
}

/// The one JSON shape of a key (`create`, `show`, `list`, the lifecycle
/// verbs): docs/cli.md.
pub(crate) fn key_json(k: &KeyMetadata, aliases: &[String]) -> serde_json::Value {
    let versions: Vec<serde_json::Value> = k
        .versions
        .iter()
        .map(|v| serde_json::json!({"version": v.version, "created": time_or_null(v.created)}))
        .collect();
    let usages: Vec<&str> = k.usages.iter().map(|u| u.aws_name()).collect();
    serde_json::json!({
        "id": k.id.as_str(),
        "label": k.label.as_deref().unwrap_or_default(),
        "aliases": aliases,
        "spec": k.spec_name,
        "aws_key_spec": k.spec.and_then(KeySpec::aws_name),
        "usages": usages,
        "managed": k.managed,
        "state": k.state.map_or("Unknown", KeyState::name),
        "origin": k.origin.name(),
        "description": k.description.as_deref().unwrap_or_default(),
        "tags": k.tags,
        "creation_date": time_or_null(k.creation_date()),
        "current_version": k.current_version,
        "min_decrypt_version": k.min_decrypt_version,
        "versions": versions,
        "rotation_period_days": k.rotation_period_days.unwrap_or(0),
        "next_rotation": time_or_null(k.next_rotation),
        "deletion_time": time_or_null(k.deletion_time),
        "valid_to": time_or_null(k.valid_to),
        "policy": k.policy.as_ref().map_or(serde_json::Value::Null, KeyPolicy::to_json),
    })
}

/// The aliases of every key this session sees, by key id.
fn aliases_by_key(t: &Token) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in t.list_aliases(None)? {
        by_key
            .entry(a.target_key_id.as_str().to_string())
            .or_default()
            .push(a.name);
    }
    Ok(by_key)
}

fn one_line(k: &KeyMetadata, aliases: &[String]) -> String {
    let version = k
        .current_version
        .map_or_else(|| "-".to_string(), |v| format!("v{v}"));
    let mut line = format!(
        "{:<24} {:<10} {:<16} {:<4} {}",
        k.label.as_deref().unwrap_or("-"),
        k.spec_name,
        k.state.map_or("Unknown", KeyState::name),
        version,
        k.id
    );
    if !aliases.is_empty() {
        line.push_str(&format!("  {}", aliases.join(",")));
    }
    line
}

/// The text form of one key (`key show`).
fn key_text(v: &serde_json::Value) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(map) = v.as_object() {
        for (name, value) in map {
            let shown = match value {
                serde_json::Value::String(s) if s.is_empty() => "-".to_string(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "-".to_string(),
                other => other.to_string(),
            };
            lines.push(format!("{:<21} {shown}", format!("{name}:")));
        }
    }
    lines
}

/// Prints one key after a command changed or showed it.
fn print_key(c: &Ctx, t: &Token, k: &KeyMetadata, full: bool) -> Outcome {
    let aliases = aliases_by_key(t)?.remove(k.id.as_str()).unwrap_or_default();
    let v = key_json(k, &aliases);
    c.print(&v, || {
        if full {
            key_text(&v)
        } else {
            vec![one_line(k, &aliases)]
        }
    });
    Ok(true)
}

/// `key create NAME`: refuses a label another key has (PKCS#11 clients may
/// still make duplicates; such keys are named by id).
fn create(c: &Ctx, a: CreateArgs) -> Outcome {
    let Some(name) = a.name.or(a.label) else {
        return Err(invalid("key create needs a NAME"));
    };
    let spec: KeySpec = a.spec.parse()?;
    let t = c.session(true)?;
    if let Some(other) = t
        .list_keys()?
        .into_iter()
        .find(|k| k.label.as_deref() == Some(name.as_str()))
    {
        return Err(invalid(format!(
            "a key labelled {name:?} already exists ({}): pick another name, or name that key by its id",
            other.id
        )));
    }
    let options = KeyOptions {
        label: Some(name),
        rotation_period_days: a.rotation_days,
        description: a.description,
        tags: a.tags.into_iter().collect(),
        ..KeyOptions::default()
    };
    let k = t.create_key(spec, &options)?;
    print_key(c, &t, &k, false)
}

fn list(c: &Ctx, a: &ListArgs) -> Outcome {
    let state = match &a.state {
        Some(s) => Some(
            [
                KeyState::Enabled,
                KeyState::Disabled,
                KeyState::PendingDeletion,
                KeyState::PendingImport,
            ]
            .into_iter()
            .find(|st| st.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                invalid(format!(
                    "unknown state {s:?}: Enabled, Disabled, PendingDeletion or PendingImport"
                ))
            })?,
        ),
        None => None,
    };
    let spec: Option<KeySpec> = a.spec.as_deref().map(str::parse).transpose()?;
    let t = c.session(true)?;
    let aliases = aliases_by_key(&t)?;
    let keys: Vec<KeyMetadata> = t
        .list_keys()?
        .into_iter()
        .filter(|k| state.is_none_or(|s| k.state == Some(s)))
        .filter(|k| spec.is_none_or(|s| k.spec == Some(s)))
        .collect();
    let of = |k: &KeyMetadata| aliases.get(k.id.as_str()).cloned().unwrap_or_default();
    let v: Vec<serde_json::Value> = keys.iter().map(|k| key_json(k, &of(k))).collect();
    c.print(&serde_json::Value::Array(v), || {
        keys.iter().map(|k| one_line(k, &of(k))).collect()
    });
    Ok(true)
}

fn rotations(c: &Ctx, key: &str) -> Outcome {
    let t = c.session(true)?;
    let k = t.describe_key(&key_ref(key))?;
    if !k.managed {
        return Err(Error::new(
            ErrorKind::InvalidKeyUsage,
            format!(
                "key {key:?} ({}) has no versions: only managed symmetric keys rotate",
                k.spec_name
            ),
        ));
    }
    let rows: Vec<serde_json::Value> = k
        .versions
        .iter()
        .map(|v| {
            serde_json::json!({
                "version": v.version,
                "created": time_or_null(v.created),
                "current": Some(v.version) == k.current_version,
                "decrypts": k.min_decrypt_version.is_none_or(|m| v.version >= m),
            })
        })
        .collect();
    c.print(&serde_json::Value::Array(rows), || {
        k.versions
            .iter()
            .map(|v| {
                let mut line = format!(
                    "v{:<4} {}",
                    v.version,
                    v.created.map_or_else(|| "-".into(), Timestamp::to_rfc3339)
                );
                if Some(v.version) == k.current_version {
                    line.push_str("  current");
                }
                if k.min_decrypt_version.is_some_and(|m| v.version < m) {
                    line.push_str("  retired (below the minimum decryption version)");
                }
                line
            })
            .collect()
    });
    Ok(true)
}

/// `key import NAME --material FILE [--valid-to RFC3339]`: 256-bit material,
/// wrapped with the token's import key (RSA-OAEP SHA-256) and unwrapped into a
/// managed key of origin "external". A key NAME in PendingImport takes the same
/// material again (and only the same).
fn import(c: &Ctx, name: &str, path: &str, valid_to: Option<&str>) -> Outcome {
    let material = SecretBytes::new(
        std::fs::read(path).map_err(|e| Error::new(ErrorKind::Io, format!("{path}: {e}")))?,
    );
    if material.len() != 32 {
        return Err(invalid(format!(
            "{path}: key material must be 32 bytes (AES-256), not {}",
            material.len()
        )));
    }
    let valid_to =
        match valid_to {
            Some(t) => Some(Timestamp::parse_rfc3339(t).map_err(|_| {
                invalid(format!("--valid-to wants YYYY-MM-DDTHH:MM:SSZ, not {t:?}"))
            })?),
            None => None,
        };
    if valid_to.is_some_and(|t| t.unix() < 0) {
        return Err(invalid("--valid-to is before 1970"));
    }
    let t = c.session(true)?;
    let k = t.import_key_material(name, &material, valid_to)?;
    print_key(c, &t, &k, false)
}

/// `key set-policy KEY --policy FILE [--force]`: checks the policy here first,
/// for a readable error, then writes it as the logged-in principal.
fn set_policy(c: &Ctx, key: &str, file: &str, force: bool) -> Outcome {
    let json =
        std::fs::read(file).map_err(|e| Error::new(ErrorKind::Io, format!("{file}: {e}")))?;
    let policy =
        KeyPolicy::parse(&json).map_err(|e| invalid(format!("{file}: {}", e.message())))?;
    if !force && policy.locks_out() {
        return Err(invalid(format!(
            "{file}: no principal could change this policy again (nobody has SetPolicy \
             without a condition); add --force to set it anyway"
        )));
    }
    let t = c.session(true)?;
    let k = t.put_key_policy(&key_ref(key), &policy, force)?;
    print_key(c, &t, &k, false)
}

fn get_policy(c: &Ctx, key: &str) -> Outcome {
    let t = c.session(true)?;
    let policy = t.get_key_policy(&key_ref(key))?;
    let v = policy.as_ref().map_or_else(
        || serde_json::json!({"default": "the key's creator and the token owner may do everything"}),
        KeyPolicy::to_json,
    );
    if c.json {
        out(&v.to_string());
    } else {
        out(&serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    Ok(true)
}

/// `softkms key …`.
pub(crate) fn key(c: &Ctx, cmd: KeyCmd) -> Outcome {
    use KeyCmd as K;
    let changed = |f: &dyn Fn(&Token) -> Result<KeyMetadata, Error>| -> Outcome {
        let t = c.session(true)?;
        let k = f(&t)?;
        print_key(c, &t, &k, false)
    };
    match cmd {
        K::Create(a) => create(c, a),
        K::Show { key } => {
            let t = c.session(true)?;
            let k = t.describe_key(&key_ref(&key))?;
            print_key(c, &t, &k, true)
        }
        K::List(a) => list(c, &a),
        K::UpdateDescription { key, description } => {
            changed(&|t| t.update_key_description(&key_ref(&key), &description))
        }
        K::Tag { key, tags } => {
            let tags: BTreeMap<String, String> = tags.into_iter().collect();
            changed(&|t| t.tag_key(&key_ref(&key), &tags))
        }
        K::Untag { key, tags } => changed(&|t| t.untag_key(&key_ref(&key), &tags)),
        K::Rotation(RotationCmd::Enable { key, days }) => {
            changed(&|t| t.set_rotation_period(&key_ref(&key), Some(days)))
        }
        K::Rotation(RotationCmd::Disable { key }) => {
            changed(&|t| t.set_rotation_period(&key_ref(&key), None))
        }
        K::Rotations { key } => rotations(c, &key),
        K::Rotate { key } => changed(&|t| t.rotate_key(&key_ref(&key))),
        K::MinDecryptVersion { key, oldest } => {
            changed(&|t| t.set_min_decrypt_version(&key_ref(&key), oldest))
        }
        K::Enable { key } => changed(&|t| t.enable_key(&key_ref(&key))),
        K::Disable { key } => changed(&|t| t.disable_key(&key_ref(&key))),
        K::ScheduleDeletion { key, days } => {
            changed(&|t| t.schedule_key_deletion(&key_ref(&key), Some(days)))
        }
        K::CancelDeletion { key } => changed(&|t| t.cancel_key_deletion(&key_ref(&key))),
        K::Import {
            name,
            material,
            valid_to,
        } => import(c, &name, &material, valid_to.as_deref()),
        K::SetPolicy { key, policy, force } => set_policy(c, &key, &policy, force),
        K::GetPolicy { key } => get_policy(c, &key),
    }
}

fn alias_json(a: &AliasInfo) -> serde_json::Value {
    serde_json::json!({"alias": a.name, "key_id": a.target_key_id.as_str()})
}

/// `softkms alias …`.
pub(crate) fn alias(c: &Ctx, cmd: AliasCmd) -> Outcome {
    let t = c.session(true)?;
    let (v, text) = match cmd {
        AliasCmd::Create { alias, key } => {
            let a = t.create_alias(&alias, &key_ref(&key))?;
            (
                alias_json(&a),
                vec![format!("{} -> {}", a.name, a.target_key_id)],
            )
        }
        AliasCmd::Update { alias, key } => {
            let a = t.update_alias(&alias, &key_ref(&key))?;
            (
                alias_json(&a),
                vec![format!("{} -> {}", a.name, a.target_key_id)],
            )
        }
        AliasCmd::Delete { alias } => {
            t.delete_alias(&alias)?;
            let name = if alias.starts_with("alias/") {
                alias
            } else {
                format!("alias/{alias}")
            };
            (
                serde_json::json!({"alias": name, "deleted": true}),
                vec![format!("{name} deleted")],
            )
        }
        AliasCmd::List { key } => {
            let of = key.as_deref().map(key_ref);
            let all = t.list_aliases(of.as_ref())?;
            let v: Vec<serde_json::Value> = all.iter().map(alias_json).collect();
            let text = all
                .iter()
                .map(|a| format!("{:<32} {}", a.name, a.target_key_id))
                .collect();
            (serde_json::Value::Array(v), text)
        }
    };
    c.print(&v, || text);
    Ok(true)
}
