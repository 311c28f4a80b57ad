//! `softkms`: the administration command line of SoftKMS.
//!
//! It is built on the SoftKMS Rust API (`softkms::api`), which drives the same
//! safe module surface that the PKCS#11 entry points call, so whatever it does
//! a PKCS#11 client can do too. PINs come from the
//! environment (`SOFTKMS_SO_PIN`, `SOFTKMS_PIN`), never from the command line.
//! See `docs/cli.md`.

use softkms::api::{Error, KeyOptions, KeySpec, Pin, Principal, Softkms, Token};
use std::process::ExitCode;

/// Prints a line; a closed pipe (`softkms … | head`) ends the program quietly.
fn out(line: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if writeln!(o, "{line}").is_err() {
        std::process::exit(0);
    }
}

macro_rules! emit {
    ($($t:tt)*) => { out(&format!($($t)*)) };
}

#[path = "softkms/audit.rs"]
mod audit;
#[path = "softkms/kms.rs"]
mod kms;
#[path = "softkms/users.rs"]
mod users;

const USAGE: &str = "usage: softkms [--slot N] [--json] [--user NAME] COMMAND
  --user NAME                  log in as that principal (its PIN in SOFTKMS_PIN)
commands:
  token init --label LABEL     initialize the token (SOFTKMS_SO_PIN; SOFTKMS_PIN becomes the user PIN)
  token info                   show the token
  object list                  list the objects (logs in with SOFTKMS_PIN when set)
  key create --label NAME [--spec aes256|aes128|hmac224..512|p256|p384|p521|secp256k1|ed25519|ml-dsa-44|ml-dsa-65|ml-dsa-87|rsa2048|rsa3072|rsa4096] [--rotation-days N (AES only)]
  key list | key show NAME      managed keys: state, versions, rotation, deletion
  key rotate|enable|disable|cancel-deletion NAME
  key schedule-deletion NAME [--days 7..30]
  key import NAME --material FILE [--valid-to YYYY-MM-DDTHH:MM:SSZ]
  encrypt --key NAME [--context k=v]... [--in F] [--out F]   envelope encryption
  decrypt [--context k=v]... [--in F] [--out F]               (the message names its key)
  datakey generate --key NAME [--bytes N] [--context k=v]... [--out BLOB]
  datakey decrypt --blob F [--context k=v]...
  datakey re-encrypt --blob F --key NAME [--context k=v]... [--out F]
  audit show [--since RFC3339] [--key NAME]   the audit log (SOFTKMS_SO_PIN or SOFTKMS_PIN)
  audit export [--since RFC3339] [--key NAME] the audit log as JSON lines
  audit verify | audit head    check the hash chain; print the chain head
  random [--bytes N]           random bytes from the token, in hex
  mechanisms [--markdown]      the mechanisms the module offers
  user add|set-pin NAME        as the SO (SOFTKMS_SO_PIN); the PIN in SOFTKMS_NEW_PIN
  user list | user remove NAME named principals (remove: as the SO)
  key set-policy NAME --policy FILE [--force]   replace the key policy (docs/policy.md)";

struct Opts {
    slot: u64,
    json: bool,
    /// `--user NAME`: the principal `session()` logs in as (default: "user").
    username: Option<String>,
    words: Vec<String>,
}

fn parse_args() -> Result<Opts, String> {
    let mut slot = 0;
    let mut json = false;
    let mut username = None;
    let mut words = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--slot" => {
                slot = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--slot needs a number")?
            }
            "--json" => json = true,
            "--user" => username = Some(args.next().ok_or("--user needs a NAME")?),
            "-h" | "--help" => return Err(USAGE.into()),
            _ => words.push(a),
        }
    }
    Ok(Opts {
        slot,
        json,
        username,
        words,
    })
}

fn flag(words: &[String], name: &str) -> Option<String> {
    words
        .iter()
        .position(|w| w == name)
        .and_then(|i| words.get(i + 1).cloned())
}

/// A PIN from the environment variable `var`, or else a prompt on the terminal
/// (without echo). Never from the command line.
fn env_pin(var: &str) -> Result<Pin, String> {
    if let Ok(p) = std::env::var(var) {
        return Ok(Pin::from(p));
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let who = match var {
            "SOFTKMS_SO_PIN" => "SO PIN",
            "SOFTKMS_NEW_PIN" => "new PIN",
            _ => "PIN",
        };
        let pin = rpassword::prompt_password(format!("{who}: "))
            .map_err(|e| format!("cannot read the {who}: {e}"))?;
        return Ok(Pin::from(pin));
    }
    Err(format!("set {var} to the PIN, or run on a terminal to be asked (PINs are never taken from the command line)"))
}

/// An API error as the command prints it: the message, and the PKCS#11 code
/// when the module refused the call.
fn fail(e: Error) -> String {
    match e.pkcs11_rv() {
        Some(rv) => format!("{e} (CKR 0x{rv:x})"),
        None => e.to_string(),
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The `--user` of this run, for `session()` (set once by `main`).
static USERNAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A session on the slot of this run, logged in as the user (or the `--user`
/// principal) with `SOFTKMS_PIN` when `login`.
fn session(kms: &Softkms, slot: u64, login: bool) -> Result<Token, String> {
    let t = kms.token(slot).map_err(fail)?;
    if login {
        let pin = env_pin("SOFTKMS_PIN")?;
        let who = match USERNAME.get() {
            Some(name) => Principal::Named(name.clone()),
            None => Principal::User,
        };
        t.login(&who, &pin).map_err(fail)?;
    }
    Ok(t)
}

fn token_init(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let label = flag(&o.words, "--label").ok_or("token init needs --label")?;
    let so = env_pin("SOFTKMS_SO_PIN")?;
    kms.init_token(o.slot, &label, &so).map_err(fail)?;
    if let Ok(user) = env_pin("SOFTKMS_PIN") {
        let t = kms.token(o.slot).map_err(fail)?;
        t.login(&Principal::SecurityOfficer, &so).map_err(fail)?;
        t.init_user_pin(&user).map_err(fail)?;
    }
    if o.json {
        emit!("{{\"initialized\":true,\"label\":{}}}", json_str(&label));
    } else {
        emit!("token in slot {} initialized as {label:?}", o.slot);
    }
    Ok(())
}

fn token_info(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let t = kms.token_status(o.slot).map_err(fail)?;
    let (init, user) = (t.initialized, t.user_pin_initialized);
    let path = t.path.map(|p| p.display().to_string()).unwrap_or_default();
    if o.json {
        emit!(
            "{{\"slot\":{},\"label\":{},\"serial\":{},\"initialized\":{init},\"user_pin_initialized\":{user},\"path\":{}}}",
            o.slot,
            json_str(&t.label),
            json_str(&t.serial),
            json_str(&path)
        );
    } else {
        emit!("slot:        {}", o.slot);
        emit!("file:        {path}");
        emit!("initialized: {init}");
        emit!("label:       {}", t.label);
        emit!("serial:      {}", t.serial);
        emit!("user PIN:    {}", if user { "set" } else { "not set" });
        emit!("sessions:    {}", t.sessions);
    }
    Ok(())
}

fn object_list(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let t = session(kms, o.slot, std::env::var_os("SOFTKMS_PIN").is_some())?;
    let rows = t.list_objects().map_err(fail)?;
    if o.json {
        let items: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"label\":{},\"class\":\"{}\",\"id\":{}}}",
                    json_str(r.label.as_deref().unwrap_or_default()),
                    r.class.name(),
                    json_str(&r.id)
                )
            })
            .collect();
        emit!("[{}]", items.join(","));
    } else {
        for r in rows {
            emit!(
                "{:<12} {}  {}",
                r.class.name(),
                r.id,
                r.label.unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn key_create(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let label = flag(&o.words, "--label").ok_or("key create needs --label")?;
    let spec: KeySpec = flag(&o.words, "--spec")
        .unwrap_or_else(|| "aes256".into())
        .parse()
        .map_err(fail)?;
    let rotation_period_days = flag(&o.words, "--rotation-days")
        .map(|d| d.parse())
        .transpose()
        .map_err(|_| "--rotation-days needs a number".to_string())?;
    let t = session(kms, o.slot, true)?;
    let options = KeyOptions {
        label: Some(label.clone()),
        rotation_period_days,
        ..KeyOptions::default()
    };
    let key = t.create_key(spec, &options).map_err(fail)?;
    let uid = key.id.as_str();
    if o.json {
        emit!(
            "{{\"label\":{},\"id\":{},\"spec\":{}}}",
            json_str(&label),
            json_str(uid),
            json_str(spec.name())
        );
    } else {
        emit!("created {spec} key {label:?} ({uid})");
    }
    Ok(())
}

fn random(kms: &Softkms, o: &Opts) -> Result<(), String> {
    let n: usize = flag(&o.words, "--bytes")
        .map(|v| v.parse())
        .transpose()
        .map_err(|_| "--bytes needs a number")?
        .unwrap_or(32);
    let t = session(kms, o.slot, false)?;
    let buf = t.generate_random(n).map_err(fail)?;
    let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    emit!("{hex}");
    Ok(())
}

fn mechanisms(kms: &Softkms, o: &Opts) {
    let markdown = o.words.iter().any(|w| w == "--markdown");
    if markdown {
        emit!("| mechanism | key size (min–max) | functions |");
        emit!("| --- | --- | --- |");
    }
    for d in kms.mechanisms() {
        let names = &d.functions;
        let size = if d.max_key_size == 0 {
            "–".to_string()
        } else {
            format!("{}–{}", d.min_key_size, d.max_key_size)
        };
        if markdown {
            emit!("| `{}` | {size} | {} |", d.name, names.join(", "));
        } else if o.json {
            emit!(
                "{{\"mechanism\":\"{}\",\"min_key\":{},\"max_key\":{},\"flags\":{}}}",
                d.name,
                d.min_key_size,
                d.max_key_size,
                d.pkcs11_flags
            );
        } else {
            emit!("{:<28} {size:<12} {}", d.name, names.join(","));
        }
    }
}

fn run(o: &Opts, m: &Softkms) -> Result<(), String> {
    let w: Vec<&str> = o.words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["token", "init", ..] => token_init(m, o),
        ["token", "info", ..] => token_info(m, o),
        ["object", "list", ..] => object_list(m, o),
        ["key", "create", ..] => key_create(m, o),
        ["key", "list", ..] => kms::key_list(m, o),
        ["key", "show", ..] => kms::key_show(m, o),
        ["key", "import", ..] => kms::key_import(m, o),
        ["key", "set-policy", ..] => users::set_policy(m, o),
        ["user", verb, ..] => users::user(m, o, verb),
        ["key", verb @ ("rotate" | "enable" | "disable" | "schedule-deletion" | "cancel-deletion"), ..] => {
            kms::key_lifecycle(m, o, verb)
        }
        ["encrypt", ..] => kms::encrypt(m, o),
        ["decrypt", ..] => kms::decrypt(m, o),
        ["datakey", verb, ..] => kms::datakey(m, o, verb),
        ["audit", verb, ..] => audit::run(m, o, verb),
        ["random", ..] => random(m, o),
        ["mechanisms", ..] => {
            mechanisms(m, o);
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(u) = &opts.username {
        let _ = USERNAME.set(u.clone());
    }
    // Dropping the handle at the end of the run closes SoftKMS (`C_Finalize`).
    let result = Softkms::open()
        .map_err(fail)
        .and_then(|kms| run(&opts, &kms));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("softkms: {e}");
            ExitCode::FAILURE
        }
    }
}
