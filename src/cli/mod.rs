//! Command-line interface: flags (clap) and one function per command.
//!
//! Library errors are typed; this is where they become miette reports on
//! stderr and exit codes.

mod apply;
mod completions;
mod drift;
mod facts;
mod graph;
mod import;
mod init;
mod inventory;
mod modules;
mod plan;
mod plan_json;
mod rollback;
mod sandbox;
mod schema;
mod show;
mod validate;
mod verify;

use crate::diag::Diagnostics;
use crate::exit::Exit;
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
///   keel drift --junit drift.xml           every stack of the project: 0 none, 2 drift, 1 error
///   keel verify stacks/web.yaml            run the stack's checks: 0 all pass, 1 otherwise
#[derive(Debug, Parser)]
#[command(name = "keel", version = env!("KEEL_VERSION"), verbatim_doc_comment, max_term_width = 100)]
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
    /// Set a var, over the stack's and the inventory's (repeatable), e.g.
    /// `--set release=v2.1.0`. The value is a string.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, String)>,
}

/// Parse `KEY=VALUE` of `--set`.
fn parse_set(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE (e.g. --set release=v2.1.0)"))?;
    let mut chars = k.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(format!(
            "`{k}` is not a var name: use letters, digits, `_` and `-` (e.g. --set release=v2.1.0)"
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

/// The overrides of `--set` values.
pub fn set_overrides(set: &[(String, String)]) -> crate::resolve::Overrides {
    crate::resolve::Overrides {
        vars: set.iter().cloned().collect(),
        ..Default::default()
    }
}

/// `--target` and `--tags`: a subset of the stack; and `--force-prune`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Subset {
    /// Only this resource and what it needs (repeatable): `kind[name]`,
    /// `module.NAME` or `module.NAME.kind[name]`.
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<String>,
    /// Only resources (and module uses) with one of these `tags:`, and what they need.
    #[arg(long, value_delimiter = ',', value_name = "TAG,...")]
    pub tags: Vec<String>,
    /// Also prune files changed by hand since keel wrote them (README, "Pruning").
    #[arg(long)]
    pub force_prune: bool,
}

impl Subset {
    pub fn selection(&self) -> crate::graph::select::Selection {
        crate::graph::select::Selection {
            targets: self.targets.clone(),
            tags: self.tags.clone(),
        }
    }
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
        #[command(flatten)]
        subset: Subset,
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
        /// Inventory file or folder (not with a saved plan, which records its own).
        #[arg(short, long, value_name = "FILE|DIR")]
        inventory: Option<PathBuf>,
        /// Only these hosts: a host or group name of the inventory.
        #[arg(short, long, value_name = "HOST|GROUP")]
        limit: Option<String>,
        /// (A saved plan records its own.)
        #[command(flatten)]
        subset: Subset,
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
        #[arg(
            long,
            default_value_t = crate::confirm::DEFAULT_TIMEOUT,
            value_name = "SECS",
            value_parser = clap::value_parser!(u64).range(
                *crate::config::inventory::CONFIRM_TIMEOUTS.start()
                    ..=*crate::config::inventory::CONFIRM_TIMEOUTS.end()
            )
        )]
        confirm_timeout: u64,
        /// Apply even when the lockout analysis finds that a change would cut
        /// keel's access (it is then a warning). Know what you are doing.
        #[arg(long)]
        allow_lockout_risk: bool,
        /// Seconds to wait for a host locked by another keel apply
        /// [default: wait on a terminal; fail at once otherwise and in CI].
        #[arg(long, value_name = "SECS")]
        lock_timeout: Option<u64>,
        /// Set a var, over the stack's and the inventory's (repeatable), e.g.
        /// `--set release=v2.1.0`. The value is a string.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
        set: Vec<(String, String)>,
    },
    /// Apply the release each host had before its current one (recorded on
    /// the host), saying what it changes; asks first unless --yes.
    Rollback {
        #[command(flatten)]
        common: Common,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
        /// Print the plan and the outcome as JSON.
        #[arg(long)]
        json: bool,
        /// Hosts applied at once.
        #[arg(long, default_value_t = 8, value_name = "N")]
        parallel: usize,
    },
    /// Record what the stack declares and each host already has in the
    /// host's ledger, changing nothing else: removing it from the stack
    /// later removes it from the host (README: "Pruning").
    Import {
        #[command(flatten)]
        common: Common,
    },
    /// Report drift: hosts that no longer match their stacks (exit 0 none, 2 drift, 1 error).
    ///
    /// Checks one stack, or every stack of a project (`stacks/*.yaml` of the
    /// folder given, or of the current folder). Reads each host once per stack
    /// and changes nothing. Formats: human, json, junit, github (annotations).
    Drift {
        /// A stack file, or a project folder (its stacks/*.yaml) [default: ./stacks]
        #[arg(value_name = "STACK|DIR")]
        path: Option<PathBuf>,
        /// Inventory file or folder [default: found beside each stack, as for `plan`]
        #[arg(short, long, value_name = "FILE|DIR")]
        inventory: Option<PathBuf>,
        /// Only these hosts: a host or group name of the inventory.
        #[arg(short, long, value_name = "HOST|GROUP")]
        limit: Option<String>,
        /// Report format on stdout (README: "Drift detection in CI").
        #[arg(long, value_enum, default_value = "human", conflicts_with = "json")]
        format: drift::DriftFormat,
        /// Same as `--format json`.
        #[arg(long)]
        json: bool,
        /// Also write a JUnit XML report to FILE (whatever the format on stdout).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Hosts read at once.
        #[arg(long, default_value_t = 8, value_name = "N")]
        parallel: usize,
        /// Report lockout risks of a stack as warnings instead of refusing to check it.
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
    /// List the modules a stack can use by name: the project's, those on the
    /// module path (`module_path:`, KEEL_MODULE_PATH) and those bundled with keel.
    Modules {
        /// The stack whose project and `module_path:` are searched [default: the current folder's modules/]
        stack: Option<PathBuf>,
    },
    /// Inventories: `keel inventory convert hosts.ini` prints keel's format.
    Inventory {
        #[command(subcommand)]
        command: inventory::InventoryCommand,
    },
    /// Print a shell completion script (bash, zsh or fish); see README, "Install".
    Completions {
        #[arg(value_enum)]
        shell: completions::Shell,
    },
    /// Print keel's man page (roff) on stdout.
    Man,
    /// Print the JSON Schema (draft-07) of stacks, modules and inventories,
    /// for editors; see README, "Editor support".
    Schema {
        /// Which files: all (any of the three), stack, module or inventory.
        #[arg(value_enum, default_value = "all")]
        file: crate::schema::FileKind,
    },
    /// Print the facts templates read as `{{facts.NAME}}` on a host of the
    /// inventory (connects to it; changes nothing).
    Facts {
        /// A host of the inventory.
        host: String,
        /// Inventory file or folder [default: ./inventory.yaml or ./inventory]
        #[arg(short, long, value_name = "FILE|DIR")]
        inventory: Option<PathBuf>,
        /// Print JSON instead of YAML.
        #[arg(long)]
        json: bool,
    },
    /// Show one resource's live state as keel reads it on each host (its
    /// parsed probe output) and its diff against the stack; changes nothing.
    Show {
        /// The resource: `kind[name]` or `module.NAME.kind[name]`.
        address: String,
        #[command(flatten)]
        common: Common,
    },
    /// Throwaway fresh Debian hosts in docker for trying a stack:
    /// `keel sandbox up 3`, `keel sandbox down` (README, "Sandbox").
    Sandbox {
        #[command(subcommand)]
        command: sandbox::SandboxCommand,
    },
    /// Start a new project (inventory, stack, module, .gitignore) that
    /// validates at once; never overwrites a file.
    Init(init::InitArgs),
    /// Host and group names for shell completion of `--limit`, from the
    /// inventory the command line being completed would use.
    #[command(name = "__complete-hosts", hide = true)]
    CompleteHosts {
        /// The words of the command line being completed.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Resource addresses for shell completion of `--target`, from the
    /// stack of the command line being completed.
    #[command(name = "__complete-targets", hide = true)]
    CompleteTargets {
        /// The words of the command line being completed.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
}

/// The async runtime, with Ctrl-C and SIGTERM watched
/// ([`crate::interrupt`]); `None` (said) when it cannot start.
fn runtime() -> Option<tokio::runtime::Runtime> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .inspect_err(|e| eprintln!("keel: cannot start the async runtime: {e}"))
        .ok()?;
    {
        let _in_runtime = rt.enter();
        crate::interrupt::watch();
    }
    Some(rt)
}

/// Run a command; returns the exit code.
pub fn run(args: Args) -> Exit {
    setup_output(&args);
    let Some(rt) = runtime() else {
        return Exit::Error;
    };
    match args.command {
        Command::Validate { common } => validate::run(&common),
        Command::Plan {
            common,
            subset,
            detailed_exitcode,
            json,
            out,
            all,
            parallel,
            allow_lockout_risk,
        } => rt.block_on(plan::run(plan::PlanArgs {
            allow_lockout_risk,
            common,
            subset,
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
            subset,
            yes,
            json,
            parallel,
            confirm_timeout,
            allow_lockout_risk,
            lock_timeout,
            set,
        } => rt.block_on(apply::run(apply::ApplyArgs {
            subset,
            confirm_timeout,
            allow_lockout_risk,
            lock_timeout,
            target,
            inventory,
            limit,
            yes,
            json,
            parallel,
            overrides: set_overrides(&set),
        })),
        Command::Rollback {
            common,
            yes,
            json,
            parallel,
        } => rt.block_on(rollback::run(rollback::RollbackArgs {
            common,
            yes,
            json,
            parallel,
        })),
        Command::Drift {
            path,
            inventory,
            limit,
            format,
            json,
            junit,
            parallel,
            allow_lockout_risk,
        } => rt.block_on(drift::run(drift::DriftArgs {
            path,
            inventory,
            limit,
            format: if json {
                drift::DriftFormat::Json
            } else {
                format
            },
            junit,
            parallel,
            allow_lockout_risk,
        })),
        Command::Import { common } => rt.block_on(import::run(&common)),
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
        Command::Modules { stack } => modules::run(stack.as_deref()),
        Command::Inventory { command } => inventory::run(&command),
        Command::Completions { shell } => completions::script(shell),
        Command::Man => completions::man(),
        Command::Schema { file } => schema::run(file),
        Command::Facts {
            host,
            inventory,
            json,
        } => rt.block_on(facts::run(&host, inventory.as_deref(), json)),
        Command::Show { address, common } => {
            rt.block_on(show::run(show::ShowArgs { address, common }))
        }
        Command::Sandbox { command } => sandbox::run(&command),
        Command::Init(args) => init::run(&args),
        Command::CompleteHosts { words } => completions::hosts(&words),
        Command::CompleteTargets { words } => completions::targets(&words),
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

/// At most this many diagnostics are rendered; the rest are counted. Each
/// rendering costs time in the size of its file, so 10,000 errors in one
/// big file would otherwise take minutes (and no one reads past the first).
pub const MAX_SHOWN: usize = 50;

/// Print diagnostics to stderr: the first [`MAX_SHOWN`], then a count of the rest.
pub fn report(diags: &Diagnostics) {
    let handler = miette::GraphicalReportHandler::new_themed(if console::colors_enabled_stderr() {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    })
    .with_width(100)
    .with_context_lines(2);
    let mut out = String::new();
    for d in diags.0.iter().take(MAX_SHOWN) {
        let _ = handler.render_report(&mut out, shortened(d).as_ref());
        out.push('\n');
    }
    let n = diags.len();
    if n > MAX_SHOWN {
        out.push_str(&format!(
            "keel: {} more problems not shown; fix these first\n",
            n - MAX_SHOWN
        ));
    }
    out.push_str(&format!(
        "keel: {n} problem{} found\n",
        if n == 1 { "" } else { "s" }
    ));
    eprint!("{out}");
}

/// Longest message shown in full; a message quoting a 100 kB name is cut.
const MAX_MESSAGE_CHARS: usize = 400;

fn shortened(d: &crate::diag::Diag) -> std::borrow::Cow<'_, crate::diag::Diag> {
    let n = d.message.chars().count();
    if n <= MAX_MESSAGE_CHARS {
        return std::borrow::Cow::Borrowed(d);
    }
    let mut d = d.clone();
    let head: String = d.message.chars().take(MAX_MESSAGE_CHARS - 100).collect();
    let tail: String = d.message.chars().skip(n - 80).collect();
    d.message = format!(
        "{head} … ({} characters left out) … {tail}",
        n - head.chars().count() - 80
    );
    std::borrow::Cow::Owned(d)
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
    for d in diags.0.iter().take(MAX_SHOWN) {
        let _ = handler.render_report(&mut out, shortened(d).as_ref());
        out.push('\n');
    }
    if diags.len() > MAX_SHOWN {
        out.push_str(&format!(
            "keel: {} more warnings not shown\n",
            diags.len() - MAX_SHOWN
        ));
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
