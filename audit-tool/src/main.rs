//! `testigo-audit`: the regulator's command line. Parses arguments, runs one command, maps the
//! outcome to an exit code (`testigo_audit::exit`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use testigo_audit::check::{self, Trusted};
use testigo_audit::progress::Progress;
use testigo_audit::regulator::{Auditor, Options as AuditOptions};
use testigo_audit::replay::{self, Options, Report};
use testigo_audit::report::write_report;
use testigo_audit::source::Source;
use testigo_audit::{exit, export, keyfile};
use testigo_ledger::archive::Record;
use testigo_ledger::{Hash, PublicKey};

const ABOUT: &str = "Replays a Testigo log and checks everything it claims, trusting nothing.";

const EXIT_CODES: &str = "Exit codes: 0 verified; 1 does not verify (each failure on stdout, \
with its leaf index, expected and found); 2 could not check (arguments, files, network).";

#[derive(Debug, Parser)]
#[command(name = "testigo-audit", version, about = ABOUT, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Re-derive the whole log: every signature, rule, StateRoot, checkpoint, cosignature and
    /// the conservation of money; the final root again with rs_merkle.
    #[command(after_help = REPLAY_HELP)]
    Replay(ReplayArgs),
    /// Write a node's log to an archive file, as a regulator; resumes an existing archive.
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),
    /// Verify split-view evidence (JSON from a witness or a wallet) offline.
    #[command(after_help = EVIDENCE_HELP)]
    Evidence(CheckArgs),
    /// Verify a wallet's receipt (testigo.receipt/v1) of one or more entries offline.
    #[command(name = "verify-proof", after_help = PROOF_HELP)]
    VerifyProof(CheckArgs),
    /// Create a regulator key file (0600) and print its public key for the log's genesis.
    #[command(after_help = KEY_HELP)]
    Key(KeyArgs),
    /// Answer what a regulator asks beyond the sequencer's rules (docs/AUDIT.md): revocations
    /// honoured, bases other than consent, ePrivacy uses of location and traffic data, the
    /// operator's own uses, fees, payouts; written as JSON and one self-contained HTML page.
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// The same report for one customer's data (GDPR Art. 15).
    #[command(after_help = SUBJECT_HELP)]
    Subject(SubjectArgs),
    /// Follow a live node and its witnesses: verify every new checkpoint (signature, quorum,
    /// consistency) and every new entry (replayed, root recomputed), catch split views between
    /// them, and alert on any violation (a line on stderr, a Prometheus metric, exit 1).
    #[command(after_help = MONITOR_HELP)]
    Monitor(MonitorArgs),
}

const MONITOR_HELP: &str = "Examples:
  testigo-audit monitor https://node.example:7700 https://witness1.example:7700 \\
      https://witness2.example:7700 --key regulator.key --metrics 127.0.0.1:9464
  testigo-audit monitor https://node.example:7700 --key regulator.key \\
      --genesis BASE64HASH --evidence-dir /var/lib/testigo/evidence --keep-going --json
Replays the log from its genesis first, then follows it live; every node's notes are held
against the tree it replayed. A split view is saved as evidence JSON (check it with
`testigo-audit evidence FILE`). Metrics on http://ADDR/metrics:
testigo_monitor_violations_total{kind}, testigo_monitor_checkpoints_verified_total,
testigo_monitor_verified_size, testigo_monitor_streams_lost_total.
Exit codes: 0 stopped by Ctrl-C with no violation; 1 a violation (at the first one, or at
Ctrl-C with --keep-going); 2 could not start (arguments, key, the first node's genesis).";

const REPORT_HELP: &str = "Examples:
  testigo-audit report --archive log.archive --out reports/
  testigo-audit report --node https://node.example:7700 --key regulator.key --out reports/
Writes DIR/report.json and DIR/report.html (charts inline, nothing fetched when viewed).
Exit codes: 0 no findings; 3 findings (listed on stdout and in the report); 1 a leaf breaks a
rule, so the replay stopped there (run `replay` for the whole check); 2 could not read the log.";

const SUBJECT_HELP: &str = "Examples:
  testigo-audit subject 3q2+7w... --archive log.archive --out reports/
Writes DIR/subject-<first 8 hex digits of the key>.{json,html}.
Exit codes: as `report`.";

const REPLAY_HELP: &str = "Examples:
  testigo-audit replay --archive log.archive
  testigo-audit replay --node https://node.example:7700 --key regulator.key --keep-going
  testigo-audit replay --archive big.archive --no-cross-check --stats --json > audit.json
Memory does not grow with the log, except for the rs_merkle cross-check (about 64 MB per
million leaves): --no-cross-check skips it.
Exit codes: 0 verified; 1 does not verify; 2 could not check.";

const EXPORT_HELP: &str = "Examples:
  testigo-audit key --out regulator.key          # its public key goes in the genesis
  testigo-audit export --node https://node.example:7700 --key regulator.key --out log.archive
  testigo-audit export --node https://node.example:7700 --key regulator.key --out log.archive
      # run again later: appends only what is new
Exit codes: 0 written; 2 failed (a resumed archive keeps what was written; run again).";

const EVIDENCE_HELP: &str = "Examples:
  testigo-audit evidence split.json --archive log.archive
  testigo-audit evidence split.json --origin telco.example/log/1 --log-key BASE64KEY
Exit codes: 0 the evidence proves the operator signed a split view; 1 it does not; 2 unreadable.";

const PROOF_HELP: &str = "Examples:
  testigo-audit verify-proof receipt.txt --archive log.archive
  testigo-audit verify-proof receipt.txt --origin telco.example/log/1 --log-key BASE64KEY
Exit codes: 0 the receipt proves its entries; 1 it does not; 2 unreadable.";

const KEY_HELP: &str = "Example:
  testigo-audit key --out regulator.key
  testigo-node init ... --regulator $(testigo-audit key --out regulator.key)
Exit codes: 0 created; 2 the file exists or cannot be written.";

#[derive(Debug, Args)]
struct SourceArgs {
    /// Read the log from this archive file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["node", "key"], required_unless_present = "node")]
    archive: Option<PathBuf>,
    /// Read the log from this node's API.
    #[arg(long, value_name = "URL", requires = "key")]
    node: Option<String>,
    /// The regulator's key file, to sign the node's bulk reads.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

impl SourceArgs {
    fn source(&self) -> anyhow::Result<Source> {
        match (&self.archive, &self.node, &self.key) {
            (Some(path), _, _) => Ok(Source::Archive(path.clone())),
            (None, Some(url), Some(key)) => Ok(Source::Node {
                url: url.clone(),
                key: Box::new(keyfile::load(key)?),
            }),
            _ => anyhow::bail!("give --archive FILE, or --node URL with --key FILE"),
        }
    }
}

#[derive(Debug, Args)]
struct ReplayArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// List every failure instead of stopping at the first.
    #[arg(long)]
    keep_going: bool,
    /// Skip the rs_merkle cross-check of the final root (it holds the whole tree in memory).
    #[arg(long)]
    no_cross_check: bool,
    /// Print where the time went, and the replay rate against the signature-verification
    /// ceiling measured in the same run.
    #[arg(long)]
    stats: bool,
    /// Threads verifying signatures [default: the machine's cores].
    #[arg(long)]
    threads: Option<usize>,
    /// The report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// The node.
    #[arg(long, value_name = "URL")]
    node: String,
    /// The regulator's key file (a regulator, witness or operator key may read the log).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The archive to write, or to resume if it exists.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The file to verify.
    file: PathBuf,
    /// Trust the log of this archive's genesis.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["origin", "log_key"], required_unless_present = "log_key")]
    archive: Option<PathBuf>,
    /// The log's name (with --log-key).
    #[arg(long, requires = "log_key")]
    origin: Option<String>,
    /// The log key, standard base64.
    #[arg(long, value_name = "BASE64", requires = "origin")]
    log_key: Option<String>,
    /// The genesis leaf hash to pin, standard base64 (with --log-key).
    #[arg(long, value_name = "BASE64", requires = "log_key")]
    genesis: Option<String>,
    /// The answer as JSON on stdout.
    #[arg(long)]
    json: bool,
}

impl CheckArgs {
    fn trusted(&self) -> anyhow::Result<Trusted> {
        if let Some(archive) = &self.archive {
            return Trusted::from_archive(archive);
        }
        let (Some(origin), Some(key)) = (&self.origin, &self.log_key) else {
            anyhow::bail!("give --archive FILE, or --origin with --log-key");
        };
        let log_key = PublicKey::from_base64(key).context("--log-key is not base64 of 32 bytes")?;
        let genesis_leaf = match &self.genesis {
            Some(g) => Some(
                PublicKey::from_base64(g)
                    .map(|k| Hash(k.0))
                    .context("--genesis is not base64 of 32 bytes")?,
            ),
            None => None,
        };
        Ok(Trusted {
            origin: origin.clone(),
            log_key,
            genesis_leaf,
        })
    }
}

#[derive(Debug, Args)]
struct ReportArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// The directory the report is written to (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// A claim paid later than this many days after it was made, or pending longer, is a finding.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    payout_deadline_days: u64,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct SubjectArgs {
    /// The customer's wallet key, standard base64.
    #[arg(value_name = "SUBJECT_KEY")]
    subject: String,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(Debug, Args)]
struct MonitorArgs {
    /// The nodes to follow: the operator's node, its witnesses, mirrors (the first one's genesis
    /// is the log's unless --genesis pins it).
    #[arg(value_name = "URL", required = true)]
    nodes: Vec<String>,
    /// The key file signing the bulk reads of leaves (a regulator's or a witness's).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The genesis leaf hash to trust, standard base64 [default: the first node's, on first use].
    #[arg(long, value_name = "BASE64")]
    genesis: Option<String>,
    /// Where split-view evidence is written (evidence-NNNNNN.json).
    #[arg(long, value_name = "DIR", default_value = "evidence")]
    evidence_dir: PathBuf,
    /// Serve Prometheus metrics on this address (GET /metrics).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// Keep following after a violation (alerting each one) instead of stopping at the first.
    #[arg(long)]
    keep_going: bool,
    /// Each violation as one JSON object per line on stdout, and the summary as JSON at the end.
    #[arg(long)]
    json: bool,
    /// No progress lines on stderr (alerts and warnings are still printed).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct KeyArgs {
    /// The key file to create (refused if it exists).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("testigo-audit: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Replay(args) => replay_command(&args),
        Command::Export(args) => {
            let source = Source::Node {
                url: args.node.clone(),
                key: Box::new(keyfile::load(&args.key)?),
            };
            let mut progress = Progress::new("export", args.quiet);
            let done = export::export(&source, &args.out, &mut progress)?;
            println!(
                "{}: {} leaves from index {} and {} checkpoints written",
                args.out.display(),
                done.leaves,
                done.from,
                done.checkpoints
            );
            Ok(exit::OK)
        }
        Command::Evidence(args) => {
            let trusted = args.trusted()?;
            match check::evidence(&args.file, &trusted) {
                Ok(report) => {
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&report)?);
                    } else {
                        println!(
                            "{}: proven {} of log {}: the log key signed checkpoints of sizes {} and {} that no one history can hold",
                            args.file.display(),
                            report.kind,
                            report.origin,
                            report.sizes.0,
                            report.sizes.1
                        );
                    }
                    Ok(exit::OK)
                }
                Err(e) => refused(&e),
            }
        }
        Command::VerifyProof(args) => {
            let trusted = args.trusted()?;
            match check::receipt(&args.file, &trusted) {
                Ok(report) => {
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&report)?);
                    } else {
                        for (index, kind) in &report.entries {
                            println!(
                                "leaf {index} ({kind}) is in checkpoint {} of {}, cosigned by {:?}",
                                report.checkpoint_size, report.origin, report.cosigners
                            );
                        }
                    }
                    Ok(exit::OK)
                }
                Err(e) => refused(&e),
            }
        }
        Command::Report(args) => report_command(&args, None),
        Command::Subject(args) => {
            let subject = PublicKey::from_base64(&args.subject)
                .context("the subject key is not base64 of 32 bytes")?;
            report_command(&args.report, Some(subject))
        }
        Command::Monitor(args) => monitor_command(&args),
        Command::Key(args) => {
            let key = testigo_ledger::entry::signature::generate_signing_key()
                .context("no randomness for a key")?;
            keyfile::create(&args.out, &key)?;
            println!("{}", PublicKey(key.verifying_key().to_bytes()));
            Ok(exit::OK)
        }
    }
}

/// Exit code of `report` and `subject` when the audit has findings.
const FINDINGS: u8 = 3;

fn report_command(args: &ReportArgs, subject: Option<PublicKey>) -> anyhow::Result<u8> {
    let source = args.source.source()?;
    let running = source.start()?;
    let mut auditor = Auditor::new(AuditOptions {
        subject,
        payout_deadline_ms: args.payout_deadline_days.saturating_mul(86_400_000),
    });
    let mut progress = Progress::new("report", args.quiet);
    let mut read = 0u64;
    for chunk in &running.chunks {
        for record in chunk? {
            if let Record::Leaf { index, bytes } = record {
                auditor.push_bytes(index, &bytes);
                read += 1;
            }
        }
        progress.update(read, running.position.fraction());
    }
    progress.done(read);
    running.join();
    let audit = auditor.finish();
    let stem = match &subject {
        Some(key) => format!("subject-{}", &hex_prefix(key)),
        None => "report".to_owned(),
    };
    let (json, html) = write_report(&audit, &args.out, &stem)?;
    for finding in &audit.findings {
        println!("{}: {}", finding.kind(), finding.describe());
    }
    println!(
        "{} leaves audited; {} findings; wrote {} and {}",
        read,
        audit.finding_counts.values().sum::<u64>(),
        json.display(),
        html.display()
    );
    Ok(if audit.finding_counts.contains_key("rule_violation") {
        exit::FAILED
    } else if audit.finding_counts.values().any(|&n| n > 0) {
        FINDINGS
    } else {
        exit::OK
    })
}

fn hex_prefix(key: &PublicKey) -> String {
    key.0[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// A file that was read but does not verify: exit 1; one that could not be read: exit 2.
fn refused(e: &check::CheckError) -> anyhow::Result<u8> {
    match e {
        check::CheckError::Refused(e) => {
            println!("does not verify: {e:#}");
            Ok(exit::FAILED)
        }
        check::CheckError::Unreadable(e) => anyhow::bail!("{e:#}"),
    }
}

fn replay_command(args: &ReplayArgs) -> anyhow::Result<u8> {
    let source = args.source.source()?;
    let mut options = Options {
        keep_going: args.keep_going,
        cross_check: !args.no_cross_check,
        stats: args.stats,
        ..Options::default()
    };
    if let Some(threads) = args.threads {
        options.threads = threads.max(1);
    }
    let running = source.start()?;
    let mut progress = Progress::new("replay", args.quiet);
    let mut report = replay::replay(running, options, &mut progress)?;
    if let Some(ceiling) = report.stats.ceiling_per_s {
        report.stats.ratio = Some(report.stats.leaves_per_s / ceiling);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, args.stats);
    }
    Ok(if report.ok() { exit::OK } else { exit::FAILED })
}

fn print_report(report: &Report, stats: bool) {
    for failure in &report.failures {
        println!("FAIL {failure}");
    }
    let origin = report.origin.as_deref().unwrap_or("(no genesis)");
    let verdict = if report.ok() {
        "verified"
    } else {
        "DOES NOT VERIFY"
    };
    println!(
        "{origin}: {verdict}: {} leaves, {} checkpoints, {} state roots, {} accounts, deposits {}; root {}",
        report.leaves,
        report.checkpoints,
        report.state_roots,
        report.accounts,
        report.total_deposits,
        report.root
    );
    if let Some(theirs) = report.cross_check_root {
        println!("rs_merkle cross-check root {theirs}");
    }
    if let Some(size) = report.last_checkpoint
        && size < report.leaves
    {
        println!(
            "note: {} leaves after the last checkpoint ({size}) are not yet signed by any",
            report.leaves - size
        );
    }
    if stats {
        let s = &report.stats;
        println!(
            "stats: {:.2} s wall, {:.0} leaves/s; CPU s: decoding {:.2}, signatures {:.2}, rules {:.2}, state map {:.2}, tree {:.2}, money {:.2}, checkpoints {:.2}, cross-check {:.2}",
            s.wall,
            s.leaves_per_s,
            s.decoding,
            s.signatures,
            s.rules,
            s.state_map,
            s.tree,
            s.money,
            s.checkpoints,
            s.cross_check
        );
        if let (Some(c), Some(r)) = (s.ceiling_per_s, s.ratio) {
            println!(
                "stats: verify_leaves ceiling {c:.0}/s on this run's leaves; replay ÷ ceiling = {r:.2}"
            );
        }
    }
}

fn monitor_command(args: &MonitorArgs) -> anyhow::Result<u8> {
    use std::sync::Arc;
    use testigo_audit::monitor::{self, Metrics, MonitorConfig};

    let signer = testigo_client::Signer::new(keyfile::load(&args.key)?);
    let pinned_genesis = match &args.genesis {
        Some(g) => Some(
            PublicKey::from_base64(g)
                .map(|k| Hash(k.0))
                .context("--genesis is not base64 of 32 bytes")?,
        ),
        None => None,
    };
    let config = MonitorConfig {
        nodes: args.nodes.clone(),
        signer,
        pinned_genesis,
        evidence_dir: args.evidence_dir.clone(),
        keep_going: args.keep_going,
        max_step: monitor::MAX_STEP,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    runtime.block_on(async {
        let metrics = Arc::new(Metrics::default());
        if let Some(addr) = args.metrics {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--metrics {addr}"))?;
            eprintln!(
                "testigo-audit monitor: metrics on http://{}/metrics",
                listener.local_addr()?
            );
            tokio::spawn(monitor::serve_metrics(listener, metrics.clone()));
        }
        let (progress, watching) = tokio::sync::watch::channel(monitor::Progress::default());
        eprintln!(
            "testigo-audit monitor: following {} node(s); Ctrl-C stops",
            args.nodes.len()
        );
        if !args.quiet {
            // A line when the verified size grew, at most every 10 s.
            let mut changes = watching.clone();
            tokio::spawn(async move {
                let mut shown = Some(0);
                while changes.changed().await.is_ok() {
                    let p = changes.borrow_and_update().clone();
                    if shown != Some(p.verified_size) {
                        eprintln!(
                            "testigo-audit monitor: verified to size {}; {} notes verified ({} witnessed); {} violation(s)",
                            p.verified_size, p.checkpoints, p.witnessed, p.violations
                        );
                        shown = Some(p.verified_size);
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                }
            });
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let violations = monitor::monitor(config, metrics, progress, shutdown).await?;
        let done = watching.borrow().clone();
        if args.json {
            for v in &violations {
                println!("{}", serde_json::to_string(v)?);
            }
            println!(
                "{}",
                serde_json::json!({
                    "verified_size": done.verified_size,
                    "checkpoints": done.checkpoints,
                    "witnessed": done.witnessed,
                    "streams_lost": done.streams_lost,
                    "violations": violations.len(),
                })
            );
        } else {
            for v in &violations {
                println!("VIOLATION {v}");
            }
            println!(
                "verified to size {}; {} checkpoint notes verified ({} witnessed); {} violation(s)",
                done.verified_size,
                done.checkpoints,
                done.witnessed,
                violations.len()
            );
        }
        Ok(if violations.is_empty() {
            exit::OK
        } else {
            exit::FAILED
        })
    })
}
