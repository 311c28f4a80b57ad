//! The tables: one per category, of (function, case) rows, which must name every
//! function of the list; running a table checks each case's code and that the
//! token did not change.

use crate::prelude::*;

pub(crate) type Call = Box<dyn Fn(&Env, CK_SESSION_HANDLE) -> CK_RV>;

pub(crate) enum Entry {
    /// No case of this category applies, and why.
    Na(&'static str),
    /// A hostile call (given a fresh session) and the codes the standard allows.
    Case {
        what: &'static str,
        want: Vec<CK_RV>,
        call: Call,
    },
}

#[derive(Default)]
pub(crate) struct Table(pub(crate) Vec<(&'static str, Entry)>);

impl Table {
    pub(crate) fn case(
        &mut self,
        name: &'static str,
        what: &'static str,
        want: &[CK_RV],
        call: impl Fn(&Env, CK_SESSION_HANDLE) -> CK_RV + 'static,
    ) -> &mut Self {
        self.0.push((
            name,
            Entry::Case {
                what,
                want: want.to_vec(),
                call: Box::new(call),
            },
        ));
        self
    }
    pub(crate) fn na(&mut self, names: &[&'static str], why: &'static str) -> &mut Self {
        for n in names {
            self.0.push((n, Entry::Na(why)));
        }
        self
    }
    /// The unsupported functions, each called with every pointer null and every
    /// integer `ULONG_MAX` but a real session: `CKR_FUNCTION_NOT_SUPPORTED`.
    pub(crate) fn unsupported(&mut self) -> &mut Self {
        for n in UNSUPPORTED {
            self.case(
                n,
                "not supported",
                &[CKR_FUNCTION_NOT_SUPPORTED],
                move |e, s| {
                    dummy(
                        e.f,
                        n,
                        &Dummies {
                            first: s,
                            ulong: U,
                            ptr: null_mut(),
                        },
                    )
                },
            );
        }
        self
    }

    /// Checks the table names every function of the list, each either with
    /// cases or as not applicable.
    pub(crate) fn check_coverage(&self, category: &str) {
        let all: BTreeSet<&str> = ALL.iter().map(|(n, _)| *n).collect();
        let mut na = BTreeSet::new();
        let mut cased = BTreeSet::new();
        for (n, e) in &self.0 {
            assert!(
                all.contains(n),
                "{category}: {n} is not in the function list"
            );
            match e {
                Entry::Na(why) => {
                    assert!(!why.is_empty(), "{category}: {n} is n/a without a reason");
                    assert!(na.insert(*n), "{category}: {n} marked n/a twice");
                }
                Entry::Case { .. } => {
                    cased.insert(*n);
                }
            }
        }
        let both: Vec<_> = na.intersection(&cased).collect();
        assert!(both.is_empty(), "{category}: both n/a and cased: {both:?}");
        let missing: Vec<_> = all
            .iter()
            .filter(|n| !na.contains(*n) && !cased.contains(*n))
            .collect();
        assert!(
            missing.is_empty(),
            "{category}: functions without rows: {missing:?}"
        );
    }

    /// Runs every case on a fresh session, checks its code and that the token's
    /// objects did not change. Returns (functions with cases, cases).
    pub(crate) fn run(&self, e: &Env, category: &str) -> (usize, usize) {
        self.check_coverage(category);
        let mut failures = Vec::new();
        let mut before = e.snapshot();
        let mut funcs = BTreeSet::new();
        let mut cases = 0;
        for (name, entry) in &self.0 {
            let Entry::Case { what, want, call } = entry else {
                continue;
            };
            // HOSTILE_CASE=text runs only the cases whose "name (what)" contains it
            // (to see one case abort a module by itself).
            if let Ok(only) = std::env::var("HOSTILE_CASE") {
                if !format!("{name} ({what})").contains(&only) {
                    continue;
                }
            }
            funcs.insert(*name);
            cases += 1;
            if std::env::var_os("HOSTILE_TRACE").is_some() {
                eprintln!("{category}: {name} ({what})");
            }
            let s = e.open();
            let r = catch_unwind(AssertUnwindSafe(|| call(e, s)));
            // The case may have closed it; either answer is fine here.
            let _ = c!(e, C_CloseSession, s);
            match r {
                Ok(rv) if want.contains(&rv) => {}
                Ok(rv) => failures.push(format!(
                    "{name} ({what}): got 0x{rv:x}, want one of {want:x?}"
                )),
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{name} ({what}): {msg}"));
                }
            }
            let after = e.snapshot();
            if after != before {
                failures.push(format!("{name} ({what}): the token's objects changed"));
                before = after;
            }
        }
        eprintln!(
            "{category}: {} functions with cases, {cases} cases",
            funcs.len()
        );
        assert!(
            failures.is_empty(),
            "{category}: {} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
        (funcs.len(), cases)
    }
}

pub(crate) fn two_slots() -> Ctx {
    Ctx::new(2)
}
