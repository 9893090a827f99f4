//! `testigo-node trust-file`: writes the trust file wallets pin the log with
//! (`docs/PROTOCOL.md` §15), from the running node's genesis leaf, after checking that it
//! names this data directory's log key.

use std::path::PathBuf;

use anyhow::Context as _;
use testigo_client::Client;
use testigo_ledger::trust_file::TrustFile;
use testigo_ledger::verify::verify_genesis;
use testigo_node::KeyFile;

use super::{GlobalArgs, NodeArgs};

pub(crate) const TRUST_FILE_EXAMPLE: &str = "Example (with the node running):
  testigo-node trust-file --data-dir /var/lib/testigo --out log.trust.json \\
      --public-node https://node.example:7700 --public-node https://witness.example:7700
Publish the file where customers get their wallet; `testigo-wallet init --trust-file log.trust.json`.";

#[derive(Debug, clap::Args)]
pub(crate) struct TrustFileArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// Where to write it; an existing file is left alone.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// A URL wallets should reach the log at (repeat: primary, witnesses, mirrors).
    #[arg(long = "public-node")]
    pub(crate) public_nodes: Vec<String>,
}

impl TrustFileArgs {
    pub(crate) fn run(&self, global: &GlobalArgs) -> anyhow::Result<()> {
        if self.out.exists() {
            anyhow::bail!("{} exists already: left as it is", self.out.display());
        }
        let config = self.node.config(global)?;
        let key = KeyFile::load(&config.key_path()).with_context(|| {
            format!("cannot load the log key from {}", config.data_dir.display())
        })?;
        let url = global.node_url();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the runtime")?;
        let info = runtime
            .block_on(async { Client::new(&url)?.log().await })
            .with_context(|| format!("cannot read the log's genesis from {url}"))?;
        let params = verify_genesis(&info.genesis_leaf.0, None)
            .with_context(|| format!("{url} serves a genesis that is not valid"))?;
        if params.log_key != key.public() {
            anyhow::bail!(
                "{url} serves the log of key {}, not this data directory's {}",
                params.log_key,
                key.public()
            );
        }
        let nodes = if self.public_nodes.is_empty() {
            vec![url]
        } else {
            self.public_nodes.clone()
        };
        let file = TrustFile::new(&params, info.genesis_leaf.0, nodes);
        testigo_node::keyfile::write_atomically(&self.out, file.to_text().as_bytes(), false)
            .with_context(|| format!("cannot write {}", self.out.display()))?;
        println!("log:          {}", params.origin);
        println!("log key:      {}", params.log_key);
        println!("genesis hash: {}", params.genesis_leaf);
        println!("trust file written to {}", self.out.display());
        Ok(())
    }
}
