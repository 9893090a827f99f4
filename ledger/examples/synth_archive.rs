//! Writes a synthetic log (feature `synth`) as an archive, for measuring `testigo-audit replay`:
//!
//! ```text
//! cargo run --release -p testigo-ledger --features synth --example synth_archive -- 1000000 /tmp/1m.archive
//! ```
//!
//! Arguments: traffic entries, output file, and optionally the batch size (leaves between
//! checkpoints, default 1000). The accounts are the same whatever the length.

use std::io::BufWriter;

use testigo_ledger::archive::ArchiveWriter;
use testigo_ledger::synth::{Item, LogBuilder, SynthConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(entries), Some(out)) = (args.first(), args.get(1)) else {
        return Err("usage: synth_archive ENTRIES OUT [BATCH]".into());
    };
    let entries: u64 = entries.parse()?;
    let batch = args.get(2).map(|b| b.parse()).transpose()?.unwrap_or(1000);
    let file = std::fs::File::create(out)?;
    let mut archive = ArchiveWriter::new(BufWriter::with_capacity(1 << 20, file))?;
    let mut failed = None;
    let mut sink = |item: Item| {
        let written = match &item {
            Item::Leaf { index, leaf } => archive.write_leaf(*index, &leaf.to_bytes()),
            Item::Checkpoint { note } => archive.write_checkpoint(note.as_bytes()),
        };
        if let Err(e) = written {
            failed.get_or_insert(e);
        }
    };
    let mut builder = LogBuilder::new(SynthConfig {
        subjects: 1000,
        accessors: 20,
        batch,
        ..SynthConfig::default()
    });
    builder.setup(&mut sink);
    builder.traffic(entries, &mut sink);
    builder.finish(&mut sink);
    if let Some(e) = failed {
        return Err(e.into());
    }
    archive.flush()?;
    eprintln!("{out}: {} leaves, root {}", builder.size(), builder.root());
    Ok(())
}
