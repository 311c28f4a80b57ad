//! Link flags for `libsoftkms.so`.
//!
//! With the `aws-lc` backend, aws-lc registers a pthread key destructor (its
//! per-thread state) in every thread that uses it. An application that
//! finalizes the module and `dlclose`s it would then crash when such a thread
//! exits, the destructor's code being unmapped. `-z nodelete` keeps the module
//! mapped after `dlclose` (a later `dlopen` finds it loaded), so that cannot
//! happen. The pure-Rust build needs no such flag (glibc keeps a module loaded
//! while Rust's thread-local destructors are pending).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux && std::env::var_os("CARGO_FEATURE_AWS_LC").is_some() {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
