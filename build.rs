//! Links the R-EL2 firmware image (`aarch64-unknown-none*`): Warden's own linker script, as a static
//! position-independent executable whose `R_AARCH64_RELATIVE` relocations the entry code applies
//! (see `src/arch/aarch64/entry.rs`). Host builds (tests, benches, the stub binary) link normally.

fn main() {
    let script = "src/arch/aarch64/warden.ld";
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    // `--pie`: rustc compiles `none` targets with the static relocation model, so code reaches
    // symbols PC-relatively (ADRP/ADD) and only absolute pointers in data need fixing up; as a PIE,
    // lld turns each of them into an R_AARCH64_RELATIVE entry in .rela.dyn. `-z notext` allows those
    // entries to target read-only sections (vtables, panic locations): they are applied with the MMU
    // off, before any permission exists.
    for arg in [
        "--pie",
        "--no-dynamic-linker",
        "-z",
        "notext",
        "-z",
        "norelro",
        "-z",
        "max-page-size=4096",
        "--build-id=none",
        "--gc-sections",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rustc-link-arg-bins=-T{dir}/{script}");
}
