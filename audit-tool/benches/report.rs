//! What the regulator's report costs on a long log: the analysis (the `Engine` replay with every
//! finding and chart tally) and the HTML rendering, on a seeded synthetic log, against the
//! machine's own ceiling measured in the same run (batch signature verification of the same
//! leaves, the replay's largest single cost).
//!
//! ```sh
//! cargo bench -p testigo-audit --bench report                       # 1,000,000 entries
//! TESTIGO_BENCH_ENTRIES=100000 cargo bench -p testigo-audit --bench report
//! ```
//!
//! One run, not a statistical sample: a million-entry replay takes seconds, and the figures that
//! matter are its rate and that rate's ratio to the verification ceiling.

use std::time::Instant;

use testigo_audit::regulator::{Auditor, Options};
use testigo_audit::report::{render_html, render_json};
use testigo_ledger::entry::Leaf;
use testigo_ledger::entry::signature::verify_leaves;
use testigo_ledger::synth::{Item, SYNTH_ORIGIN, SynthConfig, build};

fn main() {
    // `cargo test --benches` passes `--bench`-less flags; run only when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let entries: u64 = std::env::var("TESTIGO_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let started = Instant::now();
    let config = SynthConfig {
        subjects: 1_000,
        accessors: 20,
        batch: 1_000,
        ..SynthConfig::default()
    };
    let (_, items) = build(config, entries);
    let leaves: Vec<(u64, Leaf)> = items
        .into_iter()
        .filter_map(|item| match item {
            Item::Leaf { index, leaf } => Some((index, leaf)),
            Item::Checkpoint { .. } => None,
        })
        .collect();
    let n = leaves.len();
    eprintln!(
        "built {n} leaves in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The ceiling: batch verification of the same leaves, nothing else.
    let started = Instant::now();
    for chunk in leaves.chunks(256) {
        let refs: Vec<&Leaf> = chunk.iter().map(|(_, l)| l).collect();
        assert!(verify_leaves(SYNTH_ORIGIN, &refs).iter().all(Result::is_ok));
    }
    let verify_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut auditor = Auditor::new(Options::default());
    for (index, leaf) in leaves {
        auditor.push(index, leaf);
    }
    let audit = auditor.finish();
    let analyse_s = started.elapsed().as_secs_f64();
    assert_eq!(
        audit.log.replayed as usize,
        n,
        "{:?}",
        audit.findings.first()
    );

    let started = Instant::now();
    let html = render_html(&audit).expect("the page renders");
    let html_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let json = render_json(&audit).expect("the JSON encodes");
    let json_s = started.elapsed().as_secs_f64();

    let rate = n as f64 / analyse_s;
    let ceiling = n as f64 / verify_s;
    println!("report bench: {n} leaves, {} accesses", audit.log.accesses);
    println!("  batch verification alone: {verify_s:.2} s ({ceiling:.0} leaves/s): the ceiling");
    println!(
        "  analysis (Engine replay + findings + tallies): {analyse_s:.2} s ({rate:.0} leaves/s, {:.2} of the ceiling)",
        rate / ceiling
    );
    println!(
        "  HTML with 6 charts: {html_s:.3} s ({} KiB); JSON: {json_s:.3} s ({} KiB)",
        html.len() / 1024,
        json.len() / 1024
    );
    println!("  findings by kind: {:?}", audit.finding_counts);
}
