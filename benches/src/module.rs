//! One module under test: loaded, initialized, with a fresh token and a logged-in session.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::MechanismType;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The token label the bench gives the tokens it initializes.
const TOKEN_LABEL: &str = "pkcs11-bench";
/// The hidden flag that makes the bench a child that opens a token once and prints the time.
pub const CHILD_FLAG: &str = "--child-open";

const SO_PIN: &str = "bench-so-pin";
const USER_PIN: &str = "bench-user-pin";

/// A loaded module and the token the bench works on.
pub struct Module {
    /// Short name for the table (the file name without `lib` and `.so`).
    pub name: String,
    /// The main session, logged in as the user.
    pub session: Session,
    /// Extra sessions for the multi-threaded workloads, one per thread.
    pub workers: Vec<Session>,
    /// The mechanisms the token lists.
    pub mechanisms: Vec<MechanismType>,
    /// How many `bench-find-*` objects the token holds.
    pub find_objects: usize,
    /// Seconds spent creating them, to predict how long more would take.
    pub fill_seconds: f64,
    /// The object count this module's setup was too slow for (skipped from there on).
    pub fill_cap: Option<usize>,
    /// Whether the token was moved to `--big-dir` for the large object counts.
    pub moved: bool,
    /// How a new process opens this module's token.
    pub child: ChildSpec,
    /// The `SOFTKMS_CONF` given with `--conf`: the token is not the bench's to move.
    pub conf: Option<PathBuf>,
    p11: Pkcs11,
    _dir: TempDir,
}

/// The error text of a failed setup step.
fn err(what: &str) -> impl Fn(cryptoki::error::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Module {
    /// Loads the module at `path` with its token files in a new temporary directory.
    ///
    /// `SOFTKMS_CONF` and `SOFTHSM2_CONF` are pointed at that directory before
    /// `C_Initialize`, which is when both modules read them. Must run before any
    /// thread is started. With `conf`, `SOFTKMS_CONF` names that file instead.
    pub fn load(
        path: &Path,
        name: String,
        workers: usize,
        conf: Option<&Path>,
    ) -> Result<Module, String> {
        Self::load_in(path, name, workers, &std::env::temp_dir(), conf)
    }

    /// [`Module::load`] with the token's temporary directory under `base`.
    pub fn load_in(
        path: &Path,
        name: String,
        workers: usize,
        base: &Path,
        conf: Option<&Path>,
    ) -> Result<Module, String> {
        let dir = tempfile::Builder::new()
            .prefix("pkcs11-bench-")
            .tempdir_in(base)
            .map_err(|e| format!("temp dir in {}: {e}", base.display()))?;
        let mut env = write_configs(dir.path())?;
        if let Some(conf) = conf {
            std::env::set_var("SOFTKMS_CONF", conf);
            for (k, v) in &mut env {
                if k == "SOFTKMS_CONF" {
                    *v = conf.to_path_buf();
                }
            }
        }
        let p11 = Pkcs11::new(path).map_err(|e| format!("load {}: {e}", path.display()))?;
        p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(err("C_Initialize"))?;
        let slot = token_slot(&p11)?;
        let mut mechanisms = p11
            .get_mechanism_list(slot)
            .map_err(err("C_GetMechanismList"))?;
        // cryptoki's list drops vendor-defined mechanisms it has no name for; ask
        // for the ones the workloads use directly.
        for m in crate::workloads::VENDOR_MECHANISMS {
            if let Ok(t) = cryptoki::mechanism::MechanismType::new_vendor_defined(*m) {
                if p11.get_mechanism_info(slot, t).is_ok() && !mechanisms.contains(&t) {
                    mechanisms.push(t);
                }
            }
        }
        let session = p11.open_rw_session(slot).map_err(err("C_OpenSession"))?;
        let pin = std::env::var("PKCS11_BENCH_PIN").unwrap_or_else(|_| USER_PIN.into());
        session
            .login(UserType::User, Some(&AuthPin::new(pin.into())))
            .map_err(err("C_Login"))?;
        let workers = (0..workers)
            .map(|_| p11.open_rw_session(slot).map_err(err("C_OpenSession")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Module {
            name,
            session,
            workers,
            mechanisms,
            find_objects: 0,
            fill_seconds: 0.0,
            moved: false,
            fill_cap: None,
            child: ChildSpec {
                module: path.to_path_buf(),
                env,
            },
            conf: conf.map(Path::to_path_buf),
            p11,
            _dir: dir,
        })
    }

    /// Whether the token lists every one of `mechs`.
    pub fn supports(&self, mechs: &[MechanismType]) -> bool {
        mechs.iter().all(|m| self.mechanisms.contains(m))
    }

    /// Closes the sessions and finalizes the module.
    pub fn close(self) {
        let Module {
            session,
            workers,
            p11,
            _dir,
            ..
        } = self;
        drop(workers);
        let _ = session.logout();
        drop(session);
        if let Err(e) = p11.finalize() {
            eprintln!("C_Finalize: {e}");
        }
    }
}

/// The configuration files of SoftKMS and SoftHSMv2, both in `dir`; returns the
/// environment that names them.
fn write_configs(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let softkms = dir.join("softkms.toml");
    let token = dir.join("softkms-token.db");
    // PKCS11_BENCH_SOFTKMS_AUDIT = aggregate | per-call | off measures the audit log's cost.
    let audit = std::env::var("PKCS11_BENCH_SOFTKMS_AUDIT")
        .map(|m| format!("audit = \"{m}\"\n"))
        .unwrap_or_default();
    let conf = format!(
        "[[slot]]\nid = 0\npath = \"{}\"\nkdf = \"fast\"\n{audit}",
        token.display()
    );
    std::fs::write(&softkms, conf).map_err(|e| format!("write {}: {e}", softkms.display()))?;
    let tokens = dir.join("softhsm2-tokens");
    std::fs::create_dir(&tokens).map_err(|e| format!("mkdir {}: {e}", tokens.display()))?;
    let softhsm = dir.join("softhsm2.conf");
    let conf = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
        tokens.display()
    );
    std::fs::write(&softhsm, conf).map_err(|e| format!("write {}: {e}", softhsm.display()))?;
    std::env::set_var("SOFTKMS_CONF", &softkms);
    std::env::set_var("SOFTHSM2_CONF", &softhsm);
    Ok(vec![
        ("SOFTKMS_CONF".into(), softkms),
        ("SOFTHSM2_CONF".into(), softhsm),
    ])
}

/// What a child process needs to open a module's token: the module and the
/// environment that points it at the token.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// The module's path.
    pub module: PathBuf,
    /// `SOFTKMS_CONF` and `SOFTHSM2_CONF` of the token.
    pub env: Vec<(String, PathBuf)>,
}

impl ChildSpec {
    /// Runs the bench binary again as a child that opens the token once; returns the
    /// time the child measured (module load to first search result; process start
    /// and exit are not in it).
    pub fn open_in_child(&self) -> Result<Duration, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let pin = std::env::var("PKCS11_BENCH_PIN").unwrap_or_else(|_| USER_PIN.into());
        let out = std::process::Command::new(exe)
            .arg(CHILD_FLAG)
            .arg(&self.module)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_os_str())))
            .env("PKCS11_BENCH_PIN", pin)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("spawn child: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "child: {} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let nanos: Vec<u64> = stdout
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| format!("child printed {stdout:?}"))?;
        if let [total, load, init, open, login, find] = nanos[..] {
            if std::env::var_os("PKCS11_BENCH_VERBOSE").is_some() {
                let ms = |n: u64| n as f64 / 1e6;
                eprintln!(
                    "open in child: {:.1} ms = load {:.1} + C_Initialize {:.1} + C_OpenSession {:.1} \
                     + C_Login {:.1} + C_FindObjects {:.1}",
                    ms(total), ms(load), ms(init), ms(open), ms(login), ms(find)
                );
            }
            Ok(Duration::from_nanos(total))
        } else {
            Err(format!("child printed {stdout:?}"))
        }
    }
}

/// The child's side of [`ChildSpec::open_in_child`]: load `path`, `C_Initialize`,
/// `C_OpenSession` and `C_Login` on the token the bench initialized, find one label;
/// returns the whole time and its parts (load, `C_Initialize`, slot lookup and
/// `C_OpenSession`, `C_Login`, `C_FindObjects`). `C_Finalize` runs after the clock stops.
pub fn open_once(path: &Path) -> Result<[Duration; 6], String> {
    let start = Instant::now();
    let p11 = Pkcs11::new(path).map_err(|e| format!("load {}: {e}", path.display()))?;
    let t_load = start.elapsed();
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(err("C_Initialize"))?;
    let t_init = start.elapsed();
    let slots = p11.get_slots_with_token().map_err(err("C_GetSlotList"))?;
    let mut slot = None;
    for s in slots {
        let info = p11.get_token_info(s).map_err(err("C_GetTokenInfo"))?;
        if info.token_initialized() && info.label() == TOKEN_LABEL {
            slot = Some(s);
            break;
        }
    }
    let slot = slot.ok_or("no token labelled pkcs11-bench")?;
    let session = p11.open_rw_session(slot).map_err(err("C_OpenSession"))?;
    let t_open = start.elapsed();
    let pin = std::env::var("PKCS11_BENCH_PIN").unwrap_or_else(|_| USER_PIN.into());
    session
        .login(UserType::User, Some(&AuthPin::new(pin.into())))
        .map_err(err("C_Login"))?;
    let t_login = start.elapsed();
    let found = session
        .find_objects(&[cryptoki::object::Attribute::Label(
            crate::workloads::find_label(),
        )])
        .map_err(err("C_FindObjects"))?;
    let elapsed = start.elapsed();
    if found.len() != 1 {
        return Err(format!("found {} objects, expected 1", found.len()));
    }
    let _ = session.logout();
    drop(session);
    p11.finalize().map_err(err("C_Finalize"))?;
    Ok([
        elapsed,
        t_load,
        t_init - t_load,
        t_open - t_init,
        t_login - t_open,
        elapsed - t_login,
    ])
}

/// The slot to work on: the first uninitialized token, which is initialized here
/// with a user PIN; else (with `PKCS11_BENCH_PIN`) the first initialized one.
fn token_slot(p11: &Pkcs11) -> Result<Slot, String> {
    let slots = p11.get_slots_with_token().map_err(err("C_GetSlotList"))?;
    for &slot in &slots {
        let info = p11.get_token_info(slot).map_err(err("C_GetTokenInfo"))?;
        if !info.token_initialized() {
            init_token(p11, slot)?;
            return Ok(slot);
        }
    }
    match (slots.first(), std::env::var_os("PKCS11_BENCH_PIN")) {
        (Some(&slot), Some(_)) => Ok(slot),
        (Some(_), None) => Err("no uninitialized token, and PKCS11_BENCH_PIN is not set".into()),
        (None, _) => Err("no slot with a token".into()),
    }
}

/// `C_InitToken`, then the SO sets the user PIN.
fn init_token(p11: &Pkcs11, slot: Slot) -> Result<(), String> {
    let so = AuthPin::new(SO_PIN.into());
    p11.init_token(slot, &so, TOKEN_LABEL)
        .map_err(err("C_InitToken"))?;
    let s = p11.open_rw_session(slot).map_err(err("C_OpenSession"))?;
    s.login(UserType::So, Some(&so))
        .map_err(err("SO C_Login"))?;
    s.init_pin(&AuthPin::new(USER_PIN.into()))
        .map_err(err("C_InitPIN"))?;
    s.logout().map_err(err("C_Logout"))?;
    Ok(())
}

/// Table names for the module paths: file names without `lib` and `.so`, made unique.
pub fn names(paths: &[std::path::PathBuf]) -> Vec<String> {
    let base: Vec<String> = paths
        .iter()
        .map(|p| {
            let stem = p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string());
            let stem = stem.strip_prefix("lib").unwrap_or(&stem);
            stem.split(".so").next().unwrap_or(stem).to_string()
        })
        .collect();
    base.iter()
        .enumerate()
        .map(|(i, n)| {
            if base.iter().filter(|m| *m == n).count() > 1 {
                format!("{n}#{}", i + 1)
            } else {
                n.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn table_names() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            names(&[
                p("target/release/libsoftkms.so"),
                p("/usr/lib/softhsm/libsofthsm2.so")
            ]),
            ["softkms", "softhsm2"]
        );
        assert_eq!(
            names(&[p("a/libsoftkms.so"), p("b/libsoftkms.so.1")]),
            ["softkms#1", "softkms#2"]
        );
    }
}
