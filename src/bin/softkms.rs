//! `softkms`: the administration command line of SoftKMS.
//!
//! It drives the same safe API (`softkms::module`) that the PKCS#11 entry points
//! call, so whatever it does a PKCS#11 client can do too. PINs come from the
//! environment (`SOFTKMS_SO_PIN`, `SOFTKMS_PIN`), never from the command line.
//! See `docs/cli.md`.

use cryptoki_sys::*;
use softkms::error::Error;
use softkms::mechanism::{registry, Mechanism, Param};
use softkms::module::{self, InitArgs, Module};
use softkms::object::attr::Attribute;
use softkms::object::rules::AttrRead;
use std::process::ExitCode;
use std::sync::Arc;
use zeroize::Zeroizing;

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
  key create --label NAME [--spec aes256|aes128|hmac256|p256|rsa2048|rsa3072|rsa4096] [--rotation-days N]
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
    slot: CK_SLOT_ID,
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
fn env_pin(var: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    if let Ok(p) = std::env::var(var) {
        return Ok(Zeroizing::new(p.into_bytes()));
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
        return Ok(Zeroizing::new(pin.into_bytes()));
    }
    Err(format!("set {var} to the PIN, or run on a terminal to be asked (PINs are never taken from the command line)"))
}

fn fail(e: Error) -> String {
    format!("{e} (CKR 0x{:x})", e.rv())
}

fn pad32(label: &str) -> Result<Vec<u8>, String> {
    if label.len() > 32 {
        return Err("a label has at most 32 bytes".into());
    }
    let mut v = label.as_bytes().to_vec();
    v.resize(32, b' ');
    Ok(v)
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The `--user` of this run, for `session()` (set once by `main`).
static USERNAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn session(m: &Module, slot: CK_SLOT_ID, login: bool) -> Result<CK_SESSION_HANDLE, String> {
    let h = m
        .open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .map_err(fail)?;
    if login {
        let pin = env_pin("SOFTKMS_PIN")?;
        let name = USERNAME.get().map(String::as_bytes);
        m.login(h, CKU_USER, &pin, name).map_err(fail)?;
    }
    Ok(h)
}

fn token_init(m: &Module, o: &Opts) -> Result<(), String> {
    let label = flag(&o.words, "--label").ok_or("token init needs --label")?;
    let so = env_pin("SOFTKMS_SO_PIN")?;
    m.init_token(o.slot, &so, &pad32(&label)?).map_err(fail)?;
    if let Ok(user) = env_pin("SOFTKMS_PIN") {
        let h = m
            .open_session(o.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
            .map_err(fail)?;
        m.login(h, CKU_SO, &so, None).map_err(fail)?;
        m.init_pin(h, &user).map_err(fail)?;
        m.close_session(h).map_err(fail)?;
    }
    if o.json {
        emit!("{{\"initialized\":true,\"label\":{}}}", json_str(&label));
    } else {
        emit!("token in slot {} initialized as {label:?}", o.slot);
    }
    Ok(())
}

fn token_info(m: &Module, o: &Opts) -> Result<(), String> {
    let t = m.token_info(o.slot).map_err(fail)?;
    let init = t.flags & CKF_TOKEN_INITIALIZED != 0;
    let user = t.flags & CKF_USER_PIN_INITIALIZED != 0;
    let path = softkms::config::Config::load()
        .ok()
        .and_then(|c| c.slots.into_iter().find(|s| s.id == o.slot))
        .map(|s| s.path.display().to_string())
        .unwrap_or_default();
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
        emit!("sessions:    {}", t.session_count);
    }
    Ok(())
}

fn read_text(
    m: &Module,
    h: CK_SESSION_HANDLE,
    o: CK_OBJECT_HANDLE,
    ty: CK_ATTRIBUTE_TYPE,
) -> String {
    match m.get_attributes(h, o, &[ty]).ok().and_then(|mut v| v.pop()) {
        Some(AttrRead::Value(v)) => String::from_utf8_lossy(&v).into_owned(),
        _ => String::new(),
    }
}

fn read_ulong(
    m: &Module,
    h: CK_SESSION_HANDLE,
    o: CK_OBJECT_HANDLE,
    ty: CK_ATTRIBUTE_TYPE,
) -> Option<CK_ULONG> {
    match m.get_attributes(h, o, &[ty]).ok().and_then(|mut v| v.pop()) {
        Some(AttrRead::Value(v)) => softkms::object::attr::decode_ulong(ty, &v).ok(),
        _ => None,
    }
}

fn class_name(c: Option<CK_ULONG>) -> &'static str {
    match c {
        Some(CKO_DATA) => "data",
        Some(CKO_CERTIFICATE) => "certificate",
        Some(CKO_PUBLIC_KEY) => "public-key",
        Some(CKO_PRIVATE_KEY) => "private-key",
        Some(CKO_SECRET_KEY) => "secret-key",
        _ => "other",
    }
}

fn object_list(m: &Module, o: &Opts) -> Result<(), String> {
    let h = session(m, o.slot, std::env::var_os("SOFTKMS_PIN").is_some())?;
    m.find_init(h, &Vec::new()).map_err(fail)?;
    let objs = m.find(h, usize::MAX).map_err(fail)?;
    m.find_final(h).map_err(fail)?;
    let mut rows = Vec::new();
    for obj in objs {
        let label = read_text(m, h, obj, CKA_LABEL);
        let class = class_name(read_ulong(m, h, obj, CKA_CLASS));
        let uid = read_text(m, h, obj, CKA_UNIQUE_ID);
        rows.push((label, class, uid));
    }
    if o.json {
        let items: Vec<String> = rows
            .iter()
            .map(|(l, c, u)| {
                format!(
                    "{{\"label\":{},\"class\":\"{c}\",\"id\":{}}}",
                    json_str(l),
                    json_str(u)
                )
            })
            .collect();
        emit!("[{}]", items.join(","));
    } else {
        for (l, c, u) in rows {
            emit!("{c:<12} {u}  {l}");
        }
    }
    Ok(())
}

fn key_create(m: &Module, o: &Opts) -> Result<(), String> {
    let label = flag(&o.words, "--label").ok_or("key create needs --label")?;
    let spec = flag(&o.words, "--spec").unwrap_or_else(|| "aes256".into());
    let h = session(m, o.slot, true)?;
    let common = |t: &mut Vec<Attribute>| {
        t.push(Attribute::bool(CKA_TOKEN, true));
        t.push(Attribute::bool(CKA_PRIVATE, true));
        t.push(Attribute::new(CKA_LABEL, label.clone().into_bytes()));
    };
    let mech = |mech| Mechanism {
        mech,
        param: Param::None,
    };
    let sym = |mechanism: CK_MECHANISM_TYPE, len: CK_ULONG, uses: &[CK_ATTRIBUTE_TYPE]| {
        let mut t = vec![
            Attribute::ulong(CKA_VALUE_LEN, len),
            Attribute::bool(CKA_SENSITIVE, true),
            Attribute::bool(CKA_EXTRACTABLE, false),
        ];
        for u in uses {
            t.push(Attribute::bool(*u, true));
        }
        common(&mut t);
        if let Some(days) = flag(&o.words, "--rotation-days") {
            let days: CK_ULONG = days
                .parse()
                .map_err(|_| "--rotation-days needs a number".to_string())?;
            t.push(Attribute::ulong(
                softkms::abi::CKA_SOFTKMS_ROTATION_PERIOD,
                days,
            ));
        }
        m.generate_key(h, &mech(mechanism), &t).map_err(fail)
    };
    let pair = |mechanism: CK_MECHANISM_TYPE,
                public: Vec<Attribute>,
                private_uses: &[CK_ATTRIBUTE_TYPE],
                public_uses: &[CK_ATTRIBUTE_TYPE]| {
        let mut pubt = public;
        common(&mut pubt);
        pubt.retain(|a| a.ty != CKA_PRIVATE);
        pubt.push(Attribute::bool(CKA_PRIVATE, false));
        for u in public_uses {
            pubt.push(Attribute::bool(*u, true));
        }
        let mut privt = vec![
            Attribute::bool(CKA_SENSITIVE, true),
            Attribute::bool(CKA_EXTRACTABLE, false),
        ];
        for u in private_uses {
            privt.push(Attribute::bool(*u, true));
        }
        common(&mut privt);
        m.generate_key_pair(h, &mech(mechanism), &pubt, &privt)
            .map(|(_, p)| p)
            .map_err(fail)
    };
    let handle = match spec.as_str() {
        "aes256" => sym(
            CKM_AES_KEY_GEN,
            32,
            &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE],
        )?,
        "aes128" => sym(
            CKM_AES_KEY_GEN,
            16,
            &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP],
        )?,
        "hmac256" => sym(CKM_GENERIC_SECRET_KEY_GEN, 32, &[CKA_SIGN, CKA_VERIFY])?,
        "p256" => pair(
            CKM_EC_KEY_PAIR_GEN,
            vec![Attribute::new(
                CKA_EC_PARAMS,
                vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            )],
            &[CKA_SIGN, CKA_DERIVE],
            &[CKA_VERIFY],
        )?,
        s if s.starts_with("rsa") => {
            let bits: CK_ULONG = s[3..].parse().map_err(|_| format!("unknown spec {s}"))?;
            pair(
                CKM_RSA_PKCS_KEY_PAIR_GEN,
                vec![
                    Attribute::ulong(CKA_MODULUS_BITS, bits),
                    Attribute::new(CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
                ],
                &[CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP],
                &[CKA_VERIFY, CKA_ENCRYPT, CKA_WRAP],
            )?
        }
        other => return Err(format!("unknown spec {other}")),
    };
    let uid = read_text(m, h, handle, CKA_UNIQUE_ID);
    if o.json {
        emit!(
            "{{\"label\":{},\"id\":{},\"spec\":{}}}",
            json_str(&label),
            json_str(&uid),
            json_str(&spec)
        );
    } else {
        emit!("created {spec} key {label:?} ({uid})");
    }
    Ok(())
}

fn random(m: &Module, o: &Opts) -> Result<(), String> {
    let n: usize = flag(&o.words, "--bytes")
        .map(|v| v.parse())
        .transpose()
        .map_err(|_| "--bytes needs a number")?
        .unwrap_or(32);
    let h = session(m, o.slot, false)?;
    let mut buf = vec![0u8; n];
    m.generate_random(h, &mut buf).map_err(fail)?;
    let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    emit!("{hex}");
    Ok(())
}

/// `CKF_*` names of a mechanism's flags, in the standard's order.
fn flag_names(flags: CK_FLAGS) -> Vec<&'static str> {
    const NAMES: [(CK_FLAGS, &str); 19] = [
        (CKF_HW, "hw"),
        (CKF_MESSAGE_ENCRYPT, "message-encrypt"),
        (CKF_MESSAGE_DECRYPT, "message-decrypt"),
        (CKF_ENCRYPT, "encrypt"),
        (CKF_DECRYPT, "decrypt"),
        (CKF_DIGEST, "digest"),
        (CKF_SIGN, "sign"),
        (CKF_SIGN_RECOVER, "sign-recover"),
        (CKF_VERIFY, "verify"),
        (CKF_VERIFY_RECOVER, "verify-recover"),
        (CKF_GENERATE, "generate"),
        (CKF_GENERATE_KEY_PAIR, "generate-key-pair"),
        (CKF_WRAP, "wrap"),
        (CKF_UNWRAP, "unwrap"),
        (CKF_DERIVE, "derive"),
        (CKF_EC_F_P, "ec-f-p"),
        (CKF_EC_OID, "ec-oid"),
        (CKF_EC_UNCOMPRESS, "ec-uncompress"),
        (CKF_EC_COMPRESS, "ec-compress"),
    ];
    NAMES
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn mechanisms(o: &Opts) {
    let markdown = o.words.iter().any(|w| w == "--markdown");
    if markdown {
        emit!("| mechanism | key size (min–max) | functions |");
        emit!("| --- | --- | --- |");
    }
    for d in registry::all() {
        let names = flag_names(d.info_flags());
        let size = if d.max_key == 0 {
            "–".to_string()
        } else {
            format!("{}–{}", d.min_key, d.max_key)
        };
        if markdown {
            emit!("| `{}` | {size} | {} |", d.name, names.join(", "));
        } else if o.json {
            emit!(
                "{{\"mechanism\":\"{}\",\"min_key\":{},\"max_key\":{},\"flags\":{}}}",
                d.name,
                d.min_key,
                d.max_key,
                d.info_flags()
            );
        } else {
            emit!("{:<28} {size:<12} {}", d.name, names.join(","));
        }
    }
}

fn run(o: &Opts, m: &Arc<Module>) -> Result<(), String> {
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
            mechanisms(o);
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
    let result = module::initialize(InitArgs {
        os_locking_ok: true,
        ..InitArgs::default()
    })
    .map_err(fail)
    .and_then(|()| module::get().map_err(fail))
    .and_then(|m| run(&opts, &m));
    let _ = module::finalize();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("softkms: {e}");
            ExitCode::FAILURE
        }
    }
}
