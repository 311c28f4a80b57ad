//! Configuration: a TOML file, the environment, and defaults (DESIGN §2).
//!
//! `SOFTKMS_CONF` names the file; without it `$XDG_CONFIG_HOME/softkms/softkms.toml`
//! (default `~/.config/softkms/softkms.toml`) is read when present. With no file at
//! all there is one slot whose token lives at `$XDG_DATA_HOME/softkms/token.db`
//! (default `~/.local/share/softkms/token.db`). See `docs/configuration.md`.

use crate::crypto::pinkdf::KdfParams;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole configuration of one process.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The slots, in slot-id order.
    pub slots: Vec<SlotConfig>,
    /// The slots served by `softkms serve` (client mode, `docs/remote-protocol.md`).
    pub remotes: Vec<RemoteSlotConfig>,
    /// `SOFTKMS_LOG` or the file's `log` level.
    pub log_level: Option<String>,
    /// Where diagnostics go (stderr when `None`).
    pub log_file: Option<PathBuf>,
    /// What the mechanisms may do beyond the defaults (`min_rsa_bits`,
    /// `legacy_mechanisms`).
    pub mechanisms: MechanismSettings,
}

/// The top-level options that change what the mechanisms offer: the module
/// hands them to the mechanism registry, which reports and enforces them
/// (`C_GetMechanismList`/`C_GetMechanismInfo` show what is in force).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MechanismSettings {
    /// The smallest RSA modulus `CKM_RSA_PKCS_KEY_PAIR_GEN` makes, in bits
    /// (`min_rsa_bits`; default 2048, at least 1024).
    pub min_rsa_bits: u64,
    /// Triple-DES and the other legacy mechanisms are offered
    /// (`legacy_mechanisms`; default false).
    pub legacy: bool,
}

/// Default `min_rsa_bits`.
pub(crate) const DEFAULT_MIN_RSA_BITS: u64 = 2048;
/// The lowest `min_rsa_bits` accepted.
pub(crate) const LOWEST_MIN_RSA_BITS: u64 = 1024;
/// The highest `min_rsa_bits` accepted: the largest modulus SoftKMS makes.
pub(crate) const HIGHEST_MIN_RSA_BITS: u64 = 8192;

impl Default for MechanismSettings {
    fn default() -> Self {
        MechanismSettings {
            min_rsa_bits: DEFAULT_MIN_RSA_BITS,
            legacy: false,
        }
    }
}

/// One slot and its token file.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotConfig {
    /// The slot id reported to callers.
    pub id: u64,
    /// The token file.
    pub path: PathBuf,
    /// Slot description (at most 64 bytes are shown).
    pub description: String,
    /// Argon2id cost for PINs set from now on.
    pub kdf: KdfParams,
    /// Wrong PINs in a row before a PIN is locked.
    pub max_pin_failures: u32,
    /// Shortest PIN accepted.
    pub min_pin_len: usize,
    /// Longest PIN accepted.
    pub max_pin_len: usize,
    /// How data events (key uses) are audited (`docs/audit.md`).
    pub audit: AuditMode,
    /// Keep at most this many audit records (`None`: no limit).
    pub audit_max_records: Option<u64>,
    /// Drop audit records older than this many days (`None`: no limit).
    pub audit_max_age_days: Option<u64>,
}

/// A slot whose token `softkms serve` holds: `server = "unix:PATH"` or
/// `"tls://HOST:PORT"` in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSlotConfig {
    /// The slot id reported to callers.
    pub id: u64,
    /// Slot description.
    pub description: String,
    /// Where the server is.
    pub target: Target,
    /// The uid the server of a Unix socket must run as (default: the owner
    /// of the socket's directory).
    pub server_uid: Option<u32>,
}

/// Where a remote slot's server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Unix socket.
    Unix(PathBuf),
    /// TLS over TCP, with a client certificate.
    Tls {
        /// Host name (checked against the server's certificate) or address.
        host: String,
        /// Port.
        port: u16,
        /// The CA certificate(s) (PEM) the server's certificate must chain to.
        ca: PathBuf,
        /// The client's certificate chain (PEM).
        cert: PathBuf,
        /// The client's private key (PEM).
        key: PathBuf,
    },
}

impl Target {
    /// Parses `unix:PATH` or `tls://HOST:PORT` (with the `ca`, `cert` and
    /// `key` files, which TLS needs and a Unix socket refuses).
    fn parse(server: &str, [ca, cert, key]: [Option<PathBuf>; 3]) -> Result<Target> {
        let bad = |why: &str| Error::General(format!("config file: server {server:?}: {why}"));
        if let Some(path) = server.strip_prefix("unix:") {
            if ca.is_some() || cert.is_some() || key.is_some() {
                return Err(bad("ca, cert and key are for tls:// servers"));
            }
            if !path.starts_with('/') {
                return Err(bad("the socket path must be absolute"));
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        let Some(rest) = server.strip_prefix("tls://") else {
            return Err(bad("expected unix:/PATH or tls://HOST:PORT"));
        };
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("expected tls://HOST:PORT"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
        match (ca, cert, key) {
            (Some(ca), Some(cert), Some(key)) if !host.is_empty() => Ok(Target::Tls {
                host: host.to_string(),
                port,
                ca,
                cert,
                key,
            }),
            (Some(_), Some(_), Some(_)) => Err(bad("no host")),
            _ => Err(bad("a tls:// server needs ca, cert and key")),
        }
    }
}

/// How data events (each use of a key) are recorded; management events are
/// always recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditMode {
    /// Aggregated per session, principal, key, version, operation and result,
    /// flushed at most a second late.
    #[default]
    Aggregate,
    /// One record per call.
    PerCall,
    /// Not recorded.
    Off,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    log: Option<String>,
    log_file: Option<PathBuf>,
    min_rsa_bits: Option<u64>,
    legacy_mechanisms: Option<bool>,
    #[serde(default, rename = "slot")]
    slots: Vec<FileSlot>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSlot {
    id: Option<u64>,
    path: Option<PathBuf>,
    server: Option<String>,
    server_uid: Option<u32>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    description: Option<String>,
    kdf: Option<FileKdf>,
    max_pin_failures: Option<u32>,
    min_pin_len: Option<usize>,
    max_pin_len: Option<usize>,
    audit: Option<AuditMode>,
    audit_max_records: Option<u64>,
    audit_max_age_days: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FileKdf {
    Named(String),
    Explicit {
        m_cost_kib: u32,
        t_cost: u32,
        p_cost: u32,
    },
}

/// Default number of wrong PINs before lock-out.
pub(crate) const DEFAULT_MAX_PIN_FAILURES: u32 = 10;
/// Default shortest PIN.
pub(crate) const DEFAULT_MIN_PIN_LEN: usize = 4;
/// Default longest PIN.
pub(crate) const DEFAULT_MAX_PIN_LEN: usize = 256;

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> Option<PathBuf> {
    env_path("HOME")
}

/// The default token path: `$XDG_DATA_HOME/softkms/token.db`.
pub(crate) fn default_token_path() -> PathBuf {
    env_path("XDG_DATA_HOME")
        .or_else(|| home().map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("softkms/token.db")
}

/// The config file that applies, if any.
pub(crate) fn config_file_path() -> Option<PathBuf> {
    if let Some(p) = env_path("SOFTKMS_CONF") {
        return Some(p);
    }
    let p = env_path("XDG_CONFIG_HOME")
        .or_else(|| home().map(|h| h.join(".config")))?
        .join("softkms/softkms.toml");
    p.exists().then_some(p)
}

impl Config {
    /// Reads the configuration from the environment and the config file.
    pub fn load() -> Result<Config> {
        let mut cfg = match config_file_path() {
            Some(p) => {
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    Error::General(format!("cannot read config file {}: {e}", p.display()))
                })?;
                Config::parse(&text, p.parent())?
            }
            None => Config::parse("", None)?,
        };
        if let Ok(level) = std::env::var("SOFTKMS_LOG") {
            cfg.log_level = Some(level);
        }
        Ok(cfg)
    }

    /// Parses a config file's text; relative token paths are taken from `base`.
    pub fn parse(text: &str, base: Option<&Path>) -> Result<Config> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| Error::General(format!("config file: {e}")))?;
        let mut slots = Vec::new();
        let mut remotes = Vec::new();
        for (i, s) in file.slots.into_iter().enumerate() {
            let token_settings = s.kdf.is_some()
                || s.max_pin_failures.is_some()
                || s.min_pin_len.is_some()
                || s.max_pin_len.is_some()
                || s.audit.is_some()
                || s.audit_max_records.is_some()
                || s.audit_max_age_days.is_some();
            let kdf = match s.kdf {
                None => KdfParams::DEFAULT,
                Some(FileKdf::Named(n)) if n == "default" => KdfParams::DEFAULT,
                Some(FileKdf::Named(n)) if n == "fast" => KdfParams::FAST,
                Some(FileKdf::Named(n)) => {
                    return Err(Error::General(format!("config file: unknown kdf {n:?}")))
                }
                Some(FileKdf::Explicit {
                    m_cost_kib,
                    t_cost,
                    p_cost,
                }) => KdfParams {
                    m_cost_kib,
                    t_cost,
                    p_cost,
                },
            };
            let resolve = |p: PathBuf| match base {
                Some(b) if p.is_relative() => b.join(p),
                _ => p,
            };
            let id = s.id.unwrap_or(u64::try_from(i).unwrap_or(u64::MAX));
            if let Some(server) = &s.server {
                if s.path.is_some() {
                    return Err(Error::General(format!(
                        "config file: slot {id} names both a path and a server"
                    )));
                }
                if token_settings {
                    return Err(Error::General(format!(
                        "config file: slot {id} is served by {server}: its token settings \
                         (kdf, PIN limits, audit) belong in the server's configuration"
                    )));
                }
                let files = [s.ca.clone(), s.cert.clone(), s.key.clone()].map(|f| f.map(resolve));
                remotes.push(RemoteSlotConfig {
                    id,
                    description: s
                        .description
                        .clone()
                        .unwrap_or_else(|| format!("SoftKMS slot {id} (remote)")),
                    target: Target::parse(server, files)?,
                    server_uid: s.server_uid,
                });
                continue;
            }
            if s.ca.is_some() || s.cert.is_some() || s.key.is_some() || s.server_uid.is_some() {
                return Err(Error::General(format!(
                    "config file: slot {id}: ca, cert, key and server_uid go with server"
                )));
            }
            let Some(path) = s.path.clone().map(resolve) else {
                return Err(Error::General(format!(
                    "config file: slot {id} needs a path or a server"
                )));
            };
            slots.push(SlotConfig {
                id,
                description: s
                    .description
                    .unwrap_or_else(|| format!("SoftKMS slot {id}")),
                path,
                kdf,
                max_pin_failures: s
                    .max_pin_failures
                    .unwrap_or(DEFAULT_MAX_PIN_FAILURES)
                    .max(1),
                min_pin_len: s.min_pin_len.unwrap_or(DEFAULT_MIN_PIN_LEN),
                max_pin_len: s.max_pin_len.unwrap_or(DEFAULT_MAX_PIN_LEN),
                audit: s.audit.unwrap_or_default(),
                audit_max_records: s.audit_max_records,
                audit_max_age_days: s.audit_max_age_days,
            });
        }
        if slots.is_empty() && remotes.is_empty() {
            slots.push(SlotConfig {
                id: 0,
                path: default_token_path(),
                description: "SoftKMS slot 0".into(),
                kdf: KdfParams::DEFAULT,
                max_pin_failures: DEFAULT_MAX_PIN_FAILURES,
                min_pin_len: DEFAULT_MIN_PIN_LEN,
                max_pin_len: DEFAULT_MAX_PIN_LEN,
                audit: AuditMode::default(),
                audit_max_records: None,
                audit_max_age_days: None,
            });
        }
        let mut ids: Vec<u64> = slots
            .iter()
            .map(|s| s.id)
            .chain(remotes.iter().map(|r| r.id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != slots.len() + remotes.len() {
            return Err(Error::General("config file: two slots share an id".into()));
        }
        for s in &slots {
            if s.min_pin_len == 0 || s.min_pin_len > s.max_pin_len {
                return Err(Error::General("config file: bad PIN length limits".into()));
            }
        }
        let min_rsa_bits = file.min_rsa_bits.unwrap_or(DEFAULT_MIN_RSA_BITS);
        if min_rsa_bits < LOWEST_MIN_RSA_BITS {
            return Err(Error::General(format!(
                "config file: min_rsa_bits = {min_rsa_bits} is below the lowest allowed, \
                 {LOWEST_MIN_RSA_BITS}"
            )));
        }
        if min_rsa_bits > HIGHEST_MIN_RSA_BITS {
            return Err(Error::General(format!(
                "config file: min_rsa_bits = {min_rsa_bits} is above the largest RSA key \
                 SoftKMS makes, {HIGHEST_MIN_RSA_BITS}"
            )));
        }
        Ok(Config {
            slots,
            remotes,
            log_level: file.log,
            log_file: file.log_file,
            mechanisms: MechanismSettings {
                min_rsa_bits,
                legacy: file.legacy_mechanisms.unwrap_or(false),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_has_one_default_slot() {
        let c = Config::parse("", None).unwrap();
        assert_eq!(c.slots.len(), 1);
        assert_eq!(c.slots[0].id, 0);
        assert!(c.slots[0].path.ends_with("softkms/token.db"));
    }

    #[test]
    fn several_slots_and_options() {
        let c = Config::parse(
            r#"
            log = "debug"
            [[slot]]
            path = "a.db"
            kdf = "fast"
            [[slot]]
            id = 7
            path = "/x/b.db"
            kdf = { m_cost_kib = 1024, t_cost = 1, p_cost = 1 }
            max_pin_failures = 3
            "#,
            Some(Path::new("/etc/softkms")),
        )
        .unwrap();
        assert_eq!(c.slots.len(), 2);
        assert_eq!(c.slots[0].path, PathBuf::from("/etc/softkms/a.db"));
        assert_eq!(c.slots[0].kdf, KdfParams::FAST);
        assert_eq!(c.slots[1].id, 7);
        assert_eq!(c.slots[1].max_pin_failures, 3);
        assert_eq!(c.log_level.as_deref(), Some("debug"));
        assert_eq!(c.slots[0].audit, AuditMode::Aggregate);
    }

    #[test]
    fn remote_slots() {
        let c = Config::parse(
            r#"
            [[slot]]
            id = 1
            path = "a.db"
            [[slot]]
            id = 2
            server = "unix:/run/softkms/p11.sock"
            [[slot]]
            id = 3
            server = "tls://keys.example:8471"
            ca = "ca.pem"
            cert = "/abs/client.pem"
            key = "client.key"
            "#,
            Some(Path::new("/etc/softkms")),
        )
        .unwrap();
        assert_eq!(c.slots.len(), 1);
        assert_eq!(c.remotes.len(), 2);
        assert_eq!(
            c.remotes[0].target,
            Target::Unix(PathBuf::from("/run/softkms/p11.sock"))
        );
        assert_eq!(
            c.remotes[1].target,
            Target::Tls {
                host: "keys.example".into(),
                port: 8471,
                ca: PathBuf::from("/etc/softkms/ca.pem"),
                cert: PathBuf::from("/abs/client.pem"),
                key: PathBuf::from("/etc/softkms/client.key"),
            }
        );
        // Only remote slots: no default local slot appears.
        let c = Config::parse(
            "[[slot]]
server='unix:/s'",
            None,
        )
        .unwrap();
        assert!(c.slots.is_empty());
        assert_eq!(c.remotes[0].id, 0);
        for bad in [
            "[[slot]]
server='unix:/s'
path='a'",
            "[[slot]]
server='unix:relative'",
            "[[slot]]
server='unix:/s'
ca='x'",
            "[[slot]]
server='tls://h:1'",
            "[[slot]]
server='tls://h'
ca='a'
cert='b'
key='c'",
            "[[slot]]
server='tls://:1'
ca='a'
cert='b'
key='c'",
            "[[slot]]
server='http://h:1'",
            "[[slot]]
server='unix:/s'
kdf='fast'",
            "[[slot]]
path='a'
cert='b'",
            "[[slot]]
description='neither'",
            "[[slot]]
id=1
path='a'
[[slot]]
id=1
server='unix:/s'",
        ] {
            assert!(Config::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn audit_options() {
        let c = Config::parse(
            "[[slot]]\npath='a'\naudit='per-call'\naudit_max_records=100\naudit_max_age_days=30",
            None,
        )
        .unwrap();
        assert_eq!(c.slots[0].audit, AuditMode::PerCall);
        assert_eq!(c.slots[0].audit_max_records, Some(100));
        assert_eq!(c.slots[0].audit_max_age_days, Some(30));
        assert!(Config::parse("[[slot]]\npath='a'\naudit='some'", None).is_err());
    }

    #[test]
    fn mechanism_options() {
        let c = Config::parse("", None).unwrap();
        assert_eq!(c.mechanisms, MechanismSettings::default());
        assert_eq!(c.mechanisms.min_rsa_bits, 2048);
        assert!(!c.mechanisms.legacy);
        let c = Config::parse(
            "min_rsa_bits = 1024\nlegacy_mechanisms = true\n[[slot]]\npath='a'",
            None,
        )
        .unwrap();
        assert_eq!(c.mechanisms.min_rsa_bits, 1024);
        assert!(c.mechanisms.legacy);
        let c = Config::parse("min_rsa_bits = 3072", None).unwrap();
        assert_eq!(c.mechanisms.min_rsa_bits, 3072);
        let e = Config::parse("min_rsa_bits = 512", None).unwrap_err();
        assert!(e.to_string().contains("min_rsa_bits = 512"), "{e}");
        assert!(e.to_string().contains("1024"), "{e}");
        assert!(Config::parse("min_rsa_bits = 8193", None).is_err());
        assert!(Config::parse("legacy_mechanisms = 1", None).is_err());
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(Config::parse("nonsense = 1", None).is_err());
        assert!(Config::parse("[[slot]]\npath='a'\nid=1\n[[slot]]\npath='b'\nid=1", None).is_err());
        assert!(Config::parse("[[slot]]\npath='a'\nkdf='slow'", None).is_err());
    }
}
