//! Writes Testigo's golden vectors to `ledger/tests/vectors/testigo/`.
//!
//! `cargo run -p testigo-ledger --example vectors`; `tests/golden.rs` checks the code still
//! produces exactly the committed files. Regenerate only when a format change is intended, and
//! say so in docs/PROTOCOL.md.

#[path = "../tests/support/golden.rs"]
mod golden;

fn main() -> std::io::Result<()> {
    let dir = golden::dir();
    std::fs::create_dir_all(&dir)?;
    for (name, text) in golden::files() {
        let path = dir.join(name);
        // Write then rename, so an interrupted run never leaves a half-written vector file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
