//! Command-line interface: flags (clap) and one function per command.
//!
//! Library errors are typed; this is where they become miette reports on
//! stderr and exit codes.

mod apply;
mod graph;
mod plan;
mod validate;
mod verify;

use crate::diag::Diagnostics;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// keel: declarative, agentless infrastructure as code.
///
/// Describe servers in YAML (inventory, modules, stacks); keel resolves a
/// stack into a dependency graph, reads the live state of every host over
/// SSH in one round trip, shows a precise plan, and applies it idempotently.
///
/// Typical use:
///   keel validate stacks/web.yaml          check everything offline
///   keel plan stacks/web.yaml              what would change, per host
///   keel apply stacks/web.yaml             make it so (asks first)
///   keel plan --detailed-exitcode ...      CI drift check: 0 none, 2 drift, 1 error
///   keel verify stacks/web.yaml            run the stack's checks: 0 all pass, 1 otherwise
#[derive(Debug, Parser)]
#[command(name = "keel", version, verbatim_doc_comment, max_term_width = 100)]
pub struct Args {
    /// More output: -v logs steps and SSH round trips, -vv debugging.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Colour: auto (on a terminal), always, never. NO_COLOR is honoured.
    #[arg(long, value_enum, default_value = "auto", global = true)]
    pub color: Color,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Options shared by commands that read a stack.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The stack file (e.g. stacks/web.yaml).
    pub stack: PathBuf,
    /// Inventory file or folder of *.yaml files [default: inventory/ beside the stack's project, or ./inventory]
    #[arg(short, long, value_name = "FILE|DIR")]
    pub inventory: Option<PathBuf>,
    /// Only these hosts: a host or group name of the inventory.
    #[arg(short, long, value_name = "HOST|GROUP")]
    pub limit: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a stack, its modules and the inventory offline; report every problem.
    Validate {
        #[command(flatten)]
        common: Common,
    },
    /// Show what would change on each host (reads live state, changes nothing).
    Plan {
        #[command(flatten)]
        common: Common,
        /// Exit 0 when nothing would change, 2 when something would, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Print the plan as JSON (format: README, "Plan JSON").
        #[arg(long)]
        json: bool,
        /// Save the plan to FILE, for `keel apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// List unchanged resources too.
        #[arg(long)]
        all: bool,
        /// Hosts planned at once.
        #[arg(long, default_value_t = 8, value_name = "N")]
        parallel: usize,
        /// Report lockout risks as warnings instead of refusing.
        #[arg(long)]
        allow_lockout_risk: bool,
    },
    /// Make hosts match the stack (or apply a saved plan file exactly).
    Apply {
        /// A stack file, or a plan saved with `keel plan --out FILE`.
        target: PathBuf,
        /// Inventory file or folder (ignored for a saved plan, which records its own).
        #[arg(short, long, value_name = "FILE|DIR")]
        inventory: Option<PathBuf>,
        /// Only these hosts: a host or group name of the inventory.
        #[arg(short, long, value_name = "HOST|GROUP")]
        limit: Option<String>,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
        /// Print the plan and the outcome as JSON.
        #[arg(long)]
        json: bool,
        /// Hosts applied at once.
        #[arg(long, default_value_t = 8, value_name = "N")]
        parallel: usize,
        /// Seconds after which an SSH or firewall change that keel could not
        /// confirm with a new connection reverts by itself on the host.
        #[arg(long, default_value_t = crate::confirm::DEFAULT_TIMEOUT, value_name = "SECS")]
        confirm_timeout: u64,
        /// Apply even when the lockout analysis finds that a change would cut
        /// keel's access (it is then a warning). Know what you are doing.
        #[arg(long)]
        allow_lockout_risk: bool,
    },
    /// Run the stack's checks alone (changes nothing): exit 0 when all pass, 1 otherwise.
    Verify {
        #[command(flatten)]
        common: Common,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
        /// Hosts checked at once.
        #[arg(long, default_value_t = 8, value_name = "N")]
        parallel: usize,
    },
    /// Print the dependency graph of each host (apply order, or Graphviz DOT).
    Graph {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum, default_value = "text")]
        format: GraphFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
}

/// Run a command; returns the exit code.
pub fn run(args: Args) -> u8 {
    setup_output(&args);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keel: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match args.command {
        Command::Validate { common } => validate::run(&common),
        Command::Plan {
            common,
            detailed_exitcode,
            json,
            out,
            all,
            parallel,
            allow_lockout_risk,
        } => rt.block_on(plan::run(plan::PlanArgs {
            allow_lockout_risk,
            common,
            detailed_exitcode,
            json,
            out,
            all,
            parallel,
        })),
        Command::Apply {
            target,
            inventory,
            limit,
            yes,
            json,
            parallel,
            confirm_timeout,
            allow_lockout_risk,
        } => rt.block_on(apply::run(apply::ApplyArgs {
            confirm_timeout,
            allow_lockout_risk,
            target,
            inventory,
            limit,
            yes,
            json,
            parallel,
        })),
        Command::Verify {
            common,
            json,
            parallel,
        } => rt.block_on(verify::run(verify::VerifyArgs {
            common,
            json,
            parallel,
        })),
        Command::Graph { common, format } => graph::run(&common, format),
    }
}

fn setup_output(args: &Args) {
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    };
    console::set_colors_enabled(
        color && (matches!(args.color, Color::Always) || std::io::stdout().is_terminal()),
    );
    console::set_colors_enabled_stderr(color);
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::GraphicalReportHandler::new_themed(theme.clone())
                .with_width(100)
                .with_context_lines(2),
        )
    }));
    let level = match args.verbose {
        0 => "warn",
        1 => "keel=info",
        _ => "keel=debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Print diagnostics to stderr, every one of them.
pub fn report(diags: &Diagnostics) {
    let handler = miette::GraphicalReportHandler::new_themed(if console::colors_enabled_stderr() {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    })
    .with_width(100)
    .with_context_lines(2);
    let mut out = String::new();
    for d in &diags.0 {
        let _ = handler.render_report(&mut out, d);
        out.push('\n');
    }
    let n = diags.len();
    out.push_str(&format!(
        "keel: {n} problem{} found\n",
        if n == 1 { "" } else { "s" }
    ));
    eprint!("{out}");
}

/// Print warnings to stderr (the run goes on).
pub fn report_warnings(diags: &Diagnostics) {
    let handler = miette::GraphicalReportHandler::new_themed(if console::colors_enabled_stderr() {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    })
    .with_width(100);
    let mut out = String::new();
    for d in &diags.0 {
        let _ = handler.render_report(&mut out, d);
        out.push('\n');
    }
    eprint!("{out}");
}

/// Write to stdout; a closed pipe (`keel plan | head`) is not an error.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// The inventory to use: given, or `inventory/` of the project, or ./inventory.
pub fn inventory_path(given: Option<&Path>, stack: &Path) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    let stack_dir = stack.parent().unwrap_or(Path::new("."));
    let candidates = inventory_candidates(stack_dir);
    candidates
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("inventory"))
}

/// Where keel looks for an inventory when `-i` is not given, in order.
pub fn inventory_candidates(stack_dir: &Path) -> Vec<PathBuf> {
    vec![
        stack_dir.join("inventory.yaml"),
        stack_dir.join("inventory"),
        stack_dir.join("..").join("inventory.yaml"),
        stack_dir.join("..").join("inventory"),
        PathBuf::from("inventory.yaml"),
        PathBuf::from("inventory"),
    ]
}
