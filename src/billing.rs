//! `longrun billing`: the export for billing jobs (to stdout or a file, in constant memory)
//! and reconciliation of the ledger against Temporal's histories.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;

use longrun_api::billing::{ExportFormat, Summary, header, line, parse_period};

use crate::config::Config;
use crate::roles::open_store;

#[derive(Debug, Subcommand)]
pub(crate) enum BillingCommand {
    /// Every ledger row of a month, once, in stable columns.
    Export {
        /// The month, YYYY-MM (UTC).
        #[arg(long)]
        period: String,
        #[arg(long, default_value = "jsonl", value_parser = ["csv", "jsonl", "cloudevents"])]
        format: String,
        /// Only this workspace.
        #[arg(long)]
        workspace: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Checks the ledger against what Temporal executed for every finished run of a month;
    /// prints each missing, extra or mismatched row and exits non-zero on any.
    Reconcile {
        #[arg(long)]
        period: String,
    },
}

pub(crate) async fn run(config: &Config, command: BillingCommand) -> anyhow::Result<()> {
    match command {
        BillingCommand::Export {
            period,
            format,
            workspace,
            out,
        } => export(config, &period, &format, workspace.as_deref(), out).await,
        BillingCommand::Reconcile { period } => reconcile(config, &period).await,
    }
}

async fn export(
    config: &Config,
    period: &str,
    format: &str,
    workspace: Option<&str>,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (from, to) =
        parse_period(period).with_context(|| format!("--period {period:?} is not YYYY-MM"))?;
    let format = ExportFormat::parse(format).context("unknown --format")?;
    let store = open_store(config).await?;
    let workspace_id = match workspace {
        Some(slug) => Some(
            store
                .workspace_by_slug(slug)
                .await?
                .with_context(|| format!("no workspace {slug:?}"))?
                .id,
        ),
        None => None,
    };
    let mut writer: Box<dyn Write> = match &out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if let Some(first) = header(format) {
        writer.write_all(first.as_bytes())?;
    }
    let mut summary = Summary::default();
    let mut cursor = None;
    loop {
        let page = store
            .export_page(from, to, workspace_id.as_deref(), cursor.as_ref(), 1000)
            .await?;
        for row in &page {
            summary.add(row);
            writer.write_all(line(format, row).as_bytes())?;
        }
        match page.last() {
            Some(last) if page.len() == 1000 => cursor = Some((last.occurred_at, last.id.clone())),
            _ => break,
        }
    }
    if let Some(footer) = summary.footer(format, period) {
        writer.write_all(footer.as_bytes())?;
    }
    writer.flush()?;
    if out.is_some() {
        eprintln!("exported {} ledger rows of {period}", summary.rows);
    }
    store.close().await;
    Ok(())
}

async fn reconcile(config: &Config, period: &str) -> anyhow::Result<()> {
    let (from, to) =
        parse_period(period).with_context(|| format!("--period {period:?} is not YYYY-MM"))?;
    let store = open_store(config).await?;
    let settings = crate::roles::temporal_settings(config);
    let client = longrun_temporal::connect(&settings, "longrun-reconcile").await?;
    let report =
        longrun_worker::reconcile::reconcile(&store, &client, &config.temporal_namespace, from, to)
            .await?;
    for finding in &report.findings {
        println!(
            "{}\tworkspace {}\trun {}\t{}",
            finding.kind, finding.workspace_id, finding.run_id, finding.detail
        );
    }
    println!(
        "{period}: {} finished runs checked, {} still live skipped, {} difference(s)",
        report.runs_checked,
        report.runs_skipped,
        report.findings.len()
    );
    store.close().await;
    if !report.findings.is_empty() {
        bail!("the ledger does not match Temporal's histories");
    }
    Ok(())
}
