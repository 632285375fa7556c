//! Start-up code in one place. packaging/startup.ld (made by packaging/startup-order.py) names the functions
//! `switchboard serve` runs from spawn to answering `tools/list`; the linker puts them together before the rest of
//! the code. The kernel maps the 64 KiB around every page of the executable a process touches, so scattered through
//! the whole binary that code kept ~6 MiB of it resident; together, ~1.5 MiB.
//!
//! Only for optimised builds (`release`, `dist`, `bench`) for Linux with GNU libc and the linker Rust picks there
//! (LLD on x86-64, GNU ld elsewhere: both read the script). A linker chosen in the cargo configuration or in
//! RUSTFLAGS may not (mold reads no SECTIONS), so then it is left out; `SWITCHBOARD_NO_STARTUP_ORDER=1` leaves it
//! out too (packaging/startup-order.py profiles a build without it), and `SWITCHBOARD_LINK_MAP=FILE` has the linker
//! write its map there (which section of which object went where: the profile's names).

fn main() {
    println!("cargo:rerun-if-changed=packaging/startup.ld");
    // sqlx embeds the migrations at compile time; a new migration file must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_NO_STARTUP_ORDER");
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_LINK_MAP");
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let linux_gnu = env("CARGO_CFG_TARGET_OS") == "linux" && env("CARGO_CFG_TARGET_ENV") == "gnu";
    let optimised = env("PROFILE") == "release";
    // Cargo sets RUSTC_LINKER when the configuration names a linker for the target.
    let flags = env("CARGO_ENCODED_RUSTFLAGS");
    let own_linker = std::env::var_os("RUSTC_LINKER").is_some()
        || ["fuse-ld", "linker", "link-self-contained"].iter().any(|flag| flags.contains(flag));
    if linux_gnu && optimised && !own_linker && env("SWITCHBOARD_NO_STARTUP_ORDER").is_empty() {
        let script = std::path::Path::new(&env("CARGO_MANIFEST_DIR")).join("packaging/startup.ld");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
    // Where each function went, for packaging/startup-order.py (a stripped binary names none).
    if let Ok(map) = std::env::var("SWITCHBOARD_LINK_MAP") {
        println!("cargo:rustc-link-arg-bins=-Wl,-Map={map}");
    }
}
