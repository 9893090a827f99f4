//! `testigo-node operator …`: the operator's entries, signed with the data directory's log key and
//! submitted to a running node. Each command lives in `testigo_node::operator`; this module parses
//! the flags, loads the key and prints the answer.

use anyhow::Context as _;
use testigo_ledger::api::Sequenced;
use testigo_node::KeyFile;
use testigo_node::operator::access::AccessArgs;
use testigo_node::operator::claims::{self, ClaimsArgs};
use testigo_node::operator::deposit::DepositArgs;
use testigo_node::operator::enroll_bulk::EnrollBulkArgs;
use testigo_node::operator::enroll_subject::EnrollSubjectArgs;
use testigo_node::operator::register_accessor::RegisterAccessorArgs;
use testigo_node::operator::settle::SettleArgs;
use testigo_node::operator::{Operator, OperatorError};

use super::{GlobalArgs, NodeArgs};

/// Flags shared by every operator command; `--data-dir` (where the key lives), `--node` and
/// `--wait` are the global ones ([`GlobalArgs`]).
#[derive(Debug, clap::Args)]
pub(crate) struct OperatorArgs {
    /// The config file naming the data directory (`--config`).
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    #[command(subcommand)]
    pub(crate) command: OperatorCommand,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum OperatorCommand {
    /// Enrol a customer's wallet key as a subject.
    EnrollSubject(EnrollSubjectArgs),
    /// Enrol every wallet key in a file exported by the customer systems (resumable).
    EnrollBulk(EnrollBulkArgs),
    /// Register a data buyer's key as an accessor.
    RegisterAccessor(RegisterAccessorArgs),
    /// Credit an accessor with funds received off-ledger.
    Deposit(DepositArgs),
    /// Record that a subject's claim was paid out.
    Settle(SettleArgs),
    /// List the claims awaiting payout, with the index `settle` takes.
    Claims(ClaimsArgs),
    /// Log the operator's own use of a subject's data.
    Access(AccessArgs),
}

/// Runs the command; an [`OperatorError`] stays in the chain so `main` can pick the exit code.
pub(crate) fn run(args: OperatorArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let config = args.node.config(global)?;
    let key = KeyFile::load(&config.key_path())
        .map_err(OperatorError::from)
        .with_context(|| {
            format!(
                "cannot load the operator key from {}",
                config.data_dir.display()
            )
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let output = runtime.block_on(async {
        let operator =
            Operator::connect(&global.node_url(), key.signing_key().clone(), global.wait()).await?;
        let sequenced = match &args.command {
            OperatorCommand::EnrollSubject(c) => c.run(&operator).await?,
            OperatorCommand::RegisterAccessor(c) => c.run(&operator).await?,
            OperatorCommand::Deposit(c) => c.run(&operator).await?,
            OperatorCommand::Settle(c) => c.run(&operator).await?,
            OperatorCommand::Access(c) => c.run(&operator).await?,
            OperatorCommand::Claims(c) => return Ok(claims::describe(&c.run(&operator).await?)),
            OperatorCommand::EnrollBulk(c) => {
                let summary = c
                    .run(&operator, |done, total| {
                        let percent = (done * 100).checked_div(total).unwrap_or(100);
                        eprintln!("enrolment: {done}/{total} keys ({percent}%)");
                    })
                    .await?;
                return Ok(summary.describe());
            }
        };
        Ok::<_, OperatorError>(describe(&sequenced))
    })?;
    println!("{output}");
    Ok(())
}

/// One line: the index, whether it was a duplicate, and the covering checkpoint's size.
fn describe(sequenced: &Sequenced) -> String {
    let mut line = format!("index {}", sequenced.index);
    if sequenced.duplicate {
        line.push_str(" (duplicate: already in the log)");
    }
    if let Some(proof) = &sequenced.inclusion {
        line.push_str(&format!(", checkpointed at size {}", proof.size));
    }
    line
}

/// The exit code for an error chain: the operator command's own, or 1.
pub(crate) fn exit_code(error: &anyhow::Error) -> u8 {
    error
        .chain()
        .find_map(|e| e.downcast_ref::<OperatorError>())
        .map_or(1, OperatorError::exit_code)
}

#[cfg(test)]
mod tests {
    use testigo_client::{ClientError, Retry};
    use testigo_ledger::api::ErrorBody;

    use super::*;

    #[test]
    fn refusals_and_unreachable_nodes_exit_differently() {
        let refused = anyhow::Error::from(OperatorError::Node(ClientError::Refused {
            status: 402,
            error: ErrorBody {
                code: "insufficient_funds".into(),
                message: "balance 0 does not cover price 5".into(),
                details: serde_json::Value::Null,
            },
        }));
        assert_eq!(exit_code(&refused), 3);
        let down = anyhow::Error::from(OperatorError::Node(ClientError::Retryable {
            url: "http://127.0.0.1:1/v1/log".into(),
            reason: Retry::Unreachable("connection refused".into()),
            retry_after: None,
        }))
        .context("operator enroll-subject");
        assert_eq!(exit_code(&down), 4);
        let busy = anyhow::Error::from(OperatorError::Node(ClientError::Retryable {
            url: "http://127.0.0.1:1/v1/entries".into(),
            reason: Retry::Busy {
                code: "queue_full".into(),
                message: "retry".into(),
            },
            retry_after: None,
        }));
        assert_eq!(exit_code(&busy), 5);
        assert_eq!(exit_code(&anyhow::anyhow!("config")), 1);
    }
}
