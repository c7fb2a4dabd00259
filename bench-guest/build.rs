//! Links the firmware build at the Realm IPA 0x8000_0000 (`link.ld`); host builds are a stub `main`.

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rerun-if-changed=link.ld");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{manifest_dir}/link.ld");
    }
}
