//! Command-line definitions (clap). Parsing only; `commands` does the work.

use clap::{Args, Parser, Subcommand, ValueEnum};
use prod_lens::record::FormatChoice;
use std::path::PathBuf;

/// How AI coding assistants are used, and how that use goes with software delivery.
#[derive(Debug, Parser)]
#[command(name = "prod-lens", version, about, propagate_version = true)]
pub struct Cli {
    /// SQLite database file, or a PostgreSQL store `postgres://USER@HOST/DB?sslmode=verify-full`
    /// (the password is never shown).
    #[arg(
        long,
        global = true,
        env = "PRODLENS_DB",
        hide_env_values = true,
        default_value = ".prod-lens/cache.db"
    )]
    pub db: PathBuf,
    /// CA certificate (PEM) a PostgreSQL `--db` server's certificate must chain to
    /// [default: the URL's sslrootcert, else the public web roots].
    #[arg(long, global = true, env = "PRODLENS_DB_CA", value_name = "FILE")]
    pub db_ca: Option<PathBuf>,
    /// Log more (repeat for debug output) to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stream trace files (JSONL, gzip, folders, stdin) into the store.
    IngestTraces(IngestTracesArgs),
    /// Read the LiteLLM proxy's own PostgreSQL spend-log table incrementally into the store.
    IngestLitellm(IngestLitellmArgs),
    /// Sync pull requests, commits and reopen/revert signals from GitHub (or import `gh api` output).
    IngestGithub(IngestGithubArgs),
    /// Show what is stored, the last runs and dead-letter totals.
    Status(StatusArgs),
    /// Generate the bundled sample into a fresh folder, ingest it and show the status.
    Demo(DemoArgs),
    /// Receive OTLP/HTTP traces, logs and metrics (Claude Code, Collectors) into the store.
    Collect(CollectArgs),
    /// Maintain the Parquet lake (compact, check, repair).
    #[command(subcommand)]
    Lake(LakeCommand),
    /// The pilot indicators and AI → outcome statistics per repo over a window.
    Report(ReportArgs),
    /// A local dashboard and JSON API over the store (read-only; 127.0.0.1 unless --bind).
    Serve(ServeArgs),
    /// Recompute the hourly rollups the report reads, exactly, from the stored traces.
    RebuildRollups(RebuildRollupsArgs),
    /// Developer ids of the calls and GitHub logins: who is linked to whom, and by which rule.
    Identities(IdentitiesArgs),
    /// Every pull request of a window with the evidence that AI helped, and AI-assisted vs other PRs.
    Prs(PrsArgs),
    /// Copy a SQLite store (calls, GitHub rows and cache, runs, links) into a PostgreSQL store.
    MigrateStore(MigrateStoreArgs),
    /// Delete calls (with their rollups and lake partitions) older than a UTC day: retention.
    Prune(PruneArgs),
    /// Store a teams file (member,team) and list the teams with their member counts.
    Teams(TeamsArgs),
    /// Show or set the store's privacy setting: pseudonyms and the minimum group size.
    Privacy(PrivacyArgs),
}

/// Output format of `prs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PrsFormat {
    /// A table, then the comparison.
    Table,
    /// One JSON object: `prs`, `cohorts`, `cohort_comparison`, `assisted_cost`.
    Json,
    /// One row per PR.
    Csv,
}

/// Arguments of `prs`.
#[derive(Debug, Args)]
pub struct PrsArgs {
    /// Repository (owner/name); repeat for several; omit for every repo in the store.
    #[arg(long = "repo")]
    pub repos: Vec<String>,
    /// First day (YYYY-MM-DD, UTC) [default: 28 days ending at --until].
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Last day, included [default: the last day with data].
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Output format [default: table on a terminal, json when piped].
    #[arg(long, value_enum)]
    pub format: Option<PrsFormat>,
    /// Which evidence makes a PR AI-assisted: strict (branch or trailer) or any (author window too).
    #[arg(long, value_enum, default_value = "strict")]
    pub attribution: prod_lens::attribution::Attribution,
    /// Another AI co-author pattern (case-insensitive regex); repeat for several.
    #[arg(long = "ai-trailer", value_name = "REGEX")]
    pub ai_trailers: Vec<String>,
    /// Link developer ids to GitHub logins with this CSV file (developer_id,github_login).
    #[arg(long, value_name = "FILE")]
    pub identity_map: Option<PathBuf>,
    /// Pseudonyms and group sizes.
    #[command(flatten)]
    pub privacy: prod_lens::privacy::PrivacyFlags,
}

/// Arguments of `teams`.
#[derive(Debug, Args)]
pub struct TeamsArgs {
    /// A CSV file of `member,team` lines (member: developer id or GitHub login; # comments);
    /// it replaces the stored teams. Omit to list them.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `privacy`.
#[derive(Debug, Args)]
pub struct PrivacyArgs {
    /// Turn pseudonyms on for every output of this store (a key is kept in the store unless
    /// PRODLENS_PSEUDONYM_KEY is set).
    #[arg(long, conflicts_with = "no_pseudonymize")]
    pub pseudonymize: bool,
    /// Turn pseudonyms off.
    #[arg(long)]
    pub no_pseudonymize: bool,
    /// Smallest group shown on its own (teams under it fold into `other`; per-developer views
    /// hidden unless asked for); 0 goes back to the default.
    #[arg(long, value_name = "K")]
    pub min_group_size: Option<usize>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `identities`.
#[derive(Debug, Args)]
pub struct IdentitiesArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// Pseudonyms and group sizes (a listing of developers one by one needs --show-developers
    /// when the minimum group size is above 1).
    #[command(flatten)]
    pub privacy: prod_lens::privacy::PrivacyFlags,
    /// Store the links of this CSV file (`developer_id,github_login`, # comments) first.
    #[arg(long, value_name = "FILE")]
    pub identity_map: Option<PathBuf>,
}

/// Arguments of `collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Address to listen on (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub listen: String,
    /// Accept a non-loopback --listen address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Largest accepted body, before and after gzip (larger bodies get 413).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: u64,
    /// Repository (owner/name) for records that do not name one.
    #[arg(long)]
    pub repo: Option<String>,
    /// Folder for dead letters [default: `dead-letter/` next to the database].
    #[arg(long)]
    pub dead_letter_dir: Option<PathBuf>,
    /// Fallback price for unknown models: IN,OUT in USD per million tokens (e.g. 3,15).
    #[arg(long, value_name = "IN,OUT")]
    pub default_price: Option<String>,
    /// Store the links of this CSV file (`developer_id,github_login`, # comments) with the data.
    #[arg(long, value_name = "FILE")]
    pub identity_map: Option<PathBuf>,
}

/// Arguments of `ingest-traces`.
#[derive(Debug, Args)]
pub struct IngestTracesArgs {
    /// Files, folders (every *.jsonl / *.jsonl.gz below) or `-` for stdin.
    #[arg(required_unless_present = "claude_code")]
    pub inputs: Vec<PathBuf>,
    /// Also read Claude Code's logs where it keeps them: `projects/` under every folder of
    /// CLAUDE_CONFIG_DIR (comma-separated), else ~/.config/claude/projects and ~/.claude/projects.
    #[arg(long)]
    pub claude_code: bool,
    /// Repository (owner/name) for records that do not name one.
    #[arg(long)]
    pub repo: Option<String>,
    /// File of `PATH_PREFIX OWNER/NAME` lines: the repo of calls made in a folder (Claude Code
    /// `cwd`) when `--repo` is not given; else the GitHub remote of `<cwd>/.git/config`.
    #[arg(long, value_name = "FILE")]
    pub repo_map: Option<PathBuf>,
    /// Input shape; `auto` detects it per line.
    #[arg(long, value_enum, default_value_t = FormatChoice::Auto)]
    pub format: FormatChoice,
    /// Folder for dead letters [default: `dead-letter/` next to the database].
    #[arg(long)]
    pub dead_letter_dir: Option<PathBuf>,
    /// A LiteLLM `model_prices_and_context_window.json` to price with instead of the bundled table.
    #[arg(long)]
    pub pricing: Option<PathBuf>,
    /// Fallback price for unknown models: IN,OUT in USD per million tokens (e.g. 3,15).
    #[arg(long, value_name = "IN,OUT")]
    pub default_price: Option<String>,
    /// Parser threads [default: one per core].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Parquet lake folder [default: `parquet/` next to the database].
    #[arg(long, env = "PRODLENS_PARQUET_DIR")]
    pub parquet_dir: Option<PathBuf>,
    /// Do not write the Parquet lake (`lake repair` can add the rows later).
    #[arg(long)]
    pub no_parquet: bool,
    /// Read every input whole, even files a run already read and that have not changed since
    /// (by default those are skipped, and files that grew are read from where the run stopped).
    #[arg(long)]
    pub full: bool,
    /// Rows the lake writer may hold in memory before it writes the largest partition early
    /// (the rows of the store's open transaction, up to 50 000, are held on top until it commits).
    #[arg(long, default_value_t = prod_lens::lake::BufferLimits::default().max_buffered_rows, value_name = "ROWS")]
    pub parquet_buffer_rows: usize,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
    /// Store the links of this CSV file (`developer_id,github_login`, # comments) with the data.
    #[arg(long, value_name = "FILE")]
    pub identity_map: Option<PathBuf>,
}

/// Arguments of `ingest-litellm`.
#[derive(Debug, Args)]
pub struct IngestLitellmArgs {
    /// PostgreSQL URL of the LiteLLM proxy's database
    /// (postgres://user:pass@host:5432/db?sslmode=verify-full); the password is never printed,
    /// logged or stored. sslmode: disable, prefer (default), require, verify-ca, verify-full.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// PEM file of the CA that signed the server's certificate (for sslmode=verify-ca or
    /// verify-full; with require it makes require check the chain) [default: the URL's
    /// sslrootcert, else the public web roots].
    #[arg(long, env = "PRODLENS_PG_CA", value_name = "FILE")]
    pub pg_ca: Option<PathBuf>,
    /// Rows fetched from the server-side cursor at a time (and committed per batch).
    #[arg(long, default_value_t = 5_000)]
    pub batch_rows: usize,
    /// Repository (owner/name) for rows whose metadata names none.
    #[arg(long)]
    pub repo: Option<String>,
    /// Folder for dead letters [default: `dead-letter/` next to the database].
    #[arg(long)]
    pub dead_letter_dir: Option<PathBuf>,
    /// Parquet lake folder [default: `parquet/` next to the database].
    #[arg(long, env = "PRODLENS_PARQUET_DIR")]
    pub parquet_dir: Option<PathBuf>,
    /// Do not write the Parquet lake.
    #[arg(long)]
    pub no_parquet: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Store the links of this CSV file (`developer_id,github_login`, # comments) with the data.
    #[arg(long, value_name = "FILE")]
    pub identity_map: Option<PathBuf>,
}

/// Arguments of `ingest-github`.
#[derive(Debug, Args)]
pub struct IngestGithubArgs {
    /// Repository to sync (owner/name); repeat for several.
    #[arg(long = "repo", required = true)]
    pub repos: Vec<String>,
    /// API token; never printed, logged, stored or put in a URL. Without one, public repos only
    /// at GitHub's lower unauthenticated limit.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// API root; GitHub Enterprise: https://HOST/api/v3.
    #[arg(long, default_value = prod_lens::github::client::DEFAULT_API_URL)]
    pub api_url: String,
    /// First sync only: skip PRs last updated, and commits committed, before this date/time.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Import files saved by `gh api --paginate` (.json / .json.gz, files or folders) instead of
    /// calling the API.
    #[arg(long = "from-json", value_name = "PATH", num_args = 1..)]
    pub from_json: Vec<PathBuf>,
    /// Longest wait for a rate limit to reset before stopping with a "re-run at" message.
    #[arg(long, default_value = "15m")]
    pub max_wait: String,
    /// Retries per request for server errors, timeouts, resets and secondary rate limits.
    #[arg(long, default_value_t = 5)]
    pub max_retries: u32,
    /// Timeout of one request.
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// Print one JSON object per repo (an array when several).
    #[arg(long)]
    pub json: bool,
    /// Store the links of this CSV file (`developer_id,github_login`, # comments) with the data.
    #[arg(long, value_name = "FILE")]
    pub identity_map: Option<PathBuf>,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// How many recent runs to list.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder to create (must be new, empty, or an earlier demo folder).
    #[arg(long, default_value = "demo")]
    pub dir: PathBuf,
    /// Print the ingest summary and status as JSON.
    #[arg(long)]
    pub json: bool,
    /// Keep the privacy setting "pseudonyms on" in the demo store, so the demo's report and
    /// every later output of it show pseudonyms (with the default minimum group size).
    #[arg(long)]
    pub pseudonymize: bool,
}

/// Subcommands of `lake`.
#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Merge the data files of each partition into one (waits for running ingests).
    Compact(LakeArgs),
    /// Open every data file, count rows per partition, compare with SQLite, flag big partitions.
    Check(LakeCheckArgs),
    /// Write every stored row the lake lacks; finish interrupted compactions (waits for ingests).
    Repair(LakeArgs),
}

/// Arguments shared by the `lake` subcommands.
#[derive(Debug, Args)]
pub struct LakeArgs {
    /// Parquet lake folder [default: `parquet/` next to the database].
    #[arg(long, env = "PRODLENS_PARQUET_DIR")]
    pub parquet_dir: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `lake check`.
#[derive(Debug, Args)]
pub struct LakeCheckArgs {
    /// Folder and output options.
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Warn about partitions larger than this many megabytes.
    #[arg(long, default_value_t = 100)]
    pub max_partition_mb: u64,
}

/// Output format of `report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Tables for a terminal (100 columns).
    Table,
    /// One JSON object.
    Json,
    /// Flat `metric,value` rows.
    Csv,
    /// Markdown for a PR or wiki.
    Md,
    /// One self-contained HTML page with charts (no network needed to view it).
    Html,
}

/// Arguments of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Repository (owner/name); repeat for several; omit for every repo in the store.
    #[arg(long = "repo")]
    pub repos: Vec<String>,
    /// First day of the window (YYYY-MM-DD, in --timezone) [default: 28 days ending at --until].
    #[arg(long, value_name = "DATE", default_value = "")]
    pub since: String,
    /// Last day of the window, included [default: the last day with data for the repos].
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// The headline question AI:OUTCOME:LAG (AI: requests, sessions, tokens, cost_usd; outcome:
    /// commits, merged_prs, median_merge_hours).
    #[arg(
        long,
        default_value = "requests:commits:1",
        value_name = "AI:OUTCOME:LAG"
    )]
    pub primary: String,
    /// What associations are adjusted for: calendar (day of week, trend) or none (raw, exploratory).
    #[arg(long, value_enum, default_value = "calendar")]
    pub adjust: prod_lens::stats::adjusted::Adjust,
    /// A holiday (YYYY-MM-DD) dropped from both association series; repeat for several.
    #[arg(long = "holiday", value_name = "DATE")]
    pub holidays: Vec<String>,
    /// A file of holidays, one YYYY-MM-DD a line (# comments); repeat for several.
    #[arg(long = "holidays", value_name = "FILE")]
    pub holidays_files: Vec<PathBuf>,
    /// Add a within-weekday permutation p from N shuffles (fixed seed) to every association.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub permutations: usize,
    /// Link developer ids to GitHub logins with this CSV file (`developer_id,github_login`) on
    /// top of the links stored by `prod-lens identities --identity-map` (not stored by `report`).
    #[arg(long, value_name = "FILE")]
    pub identity_map: Option<PathBuf>,
    /// Lag of the `ai_outcome_association` block (outcome day = AI day + lag).
    #[arg(long, default_value_t = 1)]
    pub lag_days: usize,
    /// Largest lag tested in `associations` (lags 0..=max-lag).
    #[arg(long, default_value_t = 3)]
    pub max_lag: usize,
    /// Models allowed by policy (globs, e.g. 'claude-3-*'); repeat for several.
    #[arg(long = "policy-model", value_name = "GLOB")]
    pub policy_models: Vec<String>,
    /// IANA timezone of the daily buckets.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// Drop Saturdays and Sundays from the association series.
    #[arg(long)]
    pub business_days: bool,
    /// Output format [default: table on a terminal, json when piped or with --output].
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Also write the report to FILE, in the format its extension names (.csv, .json, .md, .txt, .html).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Scan every trace row of the window instead of reading the hourly rollups.
    #[arg(long)]
    pub exact: bool,
    /// Only this developer's calls, commits and merged PRs (developer id / GitHub login, any case).
    #[arg(long, value_name = "ID")]
    pub developer: Option<String>,
    /// Only calls of this model (exact name); commits and PRs are not narrowed.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Only the calls, commits and merged PRs of this team's developers.
    #[arg(long, value_name = "NAME", conflicts_with = "developer")]
    pub team: Option<String>,
    /// Teams of developers from this CSV file (`member,team`) on top of the stored ones (not
    /// stored by `report`; `prod-lens teams FILE` stores them).
    #[arg(long, value_name = "FILE")]
    pub teams: Option<PathBuf>,
    /// Pseudonyms and group sizes.
    #[command(flatten)]
    pub privacy: prod_lens::privacy::PrivacyFlags,
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one; the `listening on` line tells which).
    #[arg(long, default_value_t = prod_lens::serve::DEFAULT_PORT)]
    pub port: u16,
    /// Address to listen on; anything but loopback needs an access token.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub bind: String,
    /// Access token (16+ characters) every request must carry (`Authorization: Bearer …` or the
    /// login form); never printed or logged. Prefer the environment variable: flags show in `ps`.
    #[arg(
        long,
        env = "PRODLENS_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub auth_token: Option<String>,
    /// Teams of developers from this CSV file (`member,team`) on top of the stored ones.
    #[arg(long, value_name = "FILE")]
    pub teams: Option<PathBuf>,
    /// Pseudonyms and group sizes (on top of the store's privacy setting, read at each request).
    #[command(flatten)]
    pub privacy: prod_lens::privacy::PrivacyFlags,
}

/// Arguments of `migrate-store`.
#[derive(Debug, Args)]
pub struct MigrateStoreArgs {
    /// The SQLite store to copy (brought up to this build's schema first, as any writing
    /// command does; nothing is removed from it).
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The PostgreSQL store to copy into: `postgres://USER@HOST/DB?sslmode=verify-full` (the
    /// password from the URL or PGPASSWORD is never shown).
    #[arg(long, value_name = "URL", hide_env_values = true)]
    pub to: String,
    /// CA certificate (PEM) the PostgreSQL server's certificate must chain to.
    #[arg(long, env = "PRODLENS_PG_CA", value_name = "FILE")]
    pub pg_ca: Option<PathBuf>,
    /// Print what was copied per table as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `rebuild-rollups`.
#[derive(Debug, Args)]
pub struct RebuildRollupsArgs {
    /// Only this repository (owner/name); repeat for several (one transaction each).
    #[arg(long = "repo")]
    pub repos: Vec<String>,
    /// Print what was rebuilt as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete what is older than this UTC day (`YYYY-MM-DD`): rows strictly before its midnight.
    #[arg(long, value_name = "DATE")]
    pub before: String,
    /// Only count what would be deleted; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete GitHub rows older than the cut (PRs, commits, issue events) and recompute
    /// rework links.
    #[arg(long)]
    pub github: bool,
    /// Parquet lake folder [default: `parquet/` next to the database].
    #[arg(long, env = "PRODLENS_PARQUET_DIR")]
    pub parquet_dir: Option<PathBuf>,
    /// Leave the Parquet lake alone.
    #[arg(long)]
    pub no_parquet: bool,
    /// Print what was deleted as one JSON object.
    #[arg(long)]
    pub json: bool,
}
