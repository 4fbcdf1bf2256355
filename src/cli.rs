//! The command line, compatible with the original aku:
//! `aku { -h | --help | -v | --version | -i | --info | -p ACTION | --pod ACTION }`,
//! plus the extensions documented in `docs/compatibility.md`.

use std::path::PathBuf;

use clap::{ArgGroup, CommandFactory, Parser, ValueEnum};

use crate::logging::LogFormat;

/// What `-p` does. `stop` is the 7.3 grammar's spelling of `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PodAction {
    /// After the local server started: create, sync and start replications, then write the marker.
    Start,
    /// Before the local server stops: flush, stop and reset this pod's replications.
    End,
    /// Same as `end` (accepted for the 7.3 grammar).
    Stop,
    /// Drop this pod's replication objects and stop (and reset) the peers' side.
    Clean,
    /// Extension: stop and reset every reachable pod's replication with a gone pod (`--peer N`).
    Reset,
    /// Extension, on the master: recover a failed master from a slave (`--from N`, `--yes`).
    Recover,
}

impl PodAction {
    /// `stop` is `end`.
    #[must_use]
    pub fn normalized(self) -> PodAction {
        if self == PodAction::Stop { PodAction::End } else { self }
    }

    /// The upper-case word of the framing line `AKU started with <WORD> option.`
    pub fn option_word(self) -> &'static str {
        match self.normalized() {
            PodAction::Start => "START",
            PodAction::End | PodAction::Stop => "END",
            PodAction::Clean => "CLEAN",
            PodAction::Reset => "RESET",
            PodAction::Recover => "RECOVER",
        }
    }
}

/// Output format of `-i` (extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// The original layout (`spec/aku-behaviour.md` section 6).
    #[default]
    Text,
    /// One JSON object (schema in `docs/info-json.md`).
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "aku",
    bin_name = "aku",
    version,
    disable_version_flag = true,
    disable_help_flag = true,
    about = "Keeps the database servers of a Kubernetes StatefulSet replicated as pods come and go.",
    after_help = "Configuration: --config PATH, else $AKU_CONF, else $ALTIBASE_HOME/conf/aku.conf.\n\
                  Exit codes: see docs/exit-codes.md."
)]
#[command(group(ArgGroup::new("mode").required(true).multiple(false)))]
pub struct Cli {
    /// Print the help screen (`crate::help`).
    #[arg(short = 'h', long = "help", group = "mode")]
    pub help: bool,

    /// Print the version.
    #[arg(short = 'v', long = "version", group = "mode")]
    pub version: bool,

    /// Print the parsed configuration and this pod's replications.
    #[arg(short = 'i', long = "info", group = "mode")]
    pub info: bool,

    /// Print the replication status of every server (extension); exit code 13 when a problem is found.
    #[arg(short = 's', long = "status", group = "mode")]
    pub status: bool,

    /// Run a pod procedure: start (after the server starts), end/stop (before it stops), clean.
    #[arg(short = 'p', long = "pod", value_enum, value_name = "ACTION", group = "mode")]
    pub pod: Option<PodAction>,

    /// Configuration file (extension). A path ending in .toml is read as TOML.
    #[arg(long = "config", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Output format of -i and -s (extension).
    #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// With -s: flag replication lag above this many bytes (extension).
    #[arg(long = "lag-threshold", value_name = "BYTES", default_value_t = crate::status::DEFAULT_LAG_THRESHOLD)]
    pub lag_threshold: u64,

    /// Show the password in -i output instead of ******** (extension).
    #[arg(long = "show-password")]
    pub show_password: bool,

    /// With -p reset: the server ID of the gone pod whose replications are reset (extension).
    #[arg(long = "peer", value_name = "N")]
    pub peer: Option<u8>,

    /// With -p recover: the server ID of the slave pod to recover the master from (extension).
    #[arg(long = "from", value_name = "N")]
    pub from: Option<u8>,

    /// With -p recover: confirm (the master's tables are truncated and copied again).
    #[arg(long = "yes")]
    pub yes: bool,

    /// With -p: observe and decide, print the plan (per server, in order, the exact
    /// SQL) and change nothing (extension).
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Log line format (extension).
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Aku)]
    pub log_format: LogFormat,
}

/// Why the command line was not accepted.
#[derive(Debug)]
pub enum CliError {
    /// No option, an unknown option or action, a missing value, two modes: the
    /// original prints only its help screen (BUG-50005), with a non-zero exit code.
    HelpScreen,
    /// An extension flag used without what it needs: a message says what.
    Extension(clap::Error),
}

impl CliError {
    /// The exit code (`USAGE`).
    pub fn exit_code(&self) -> i32 {
        crate::exit_code::USAGE
    }
}

impl Cli {
    /// Parses `args`, also enforcing which extensions need which mode (clap's
    /// `requires` does not fire for flags).
    pub fn parse_args<I, T>(args: I) -> Result<Cli, CliError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args).map_err(|_| CliError::HelpScreen)?;
        Self::check_extensions(&cli).map_err(CliError::Extension)?;
        Ok(cli)
    }

    fn check_extensions(cli: &Cli) -> Result<(), clap::Error> {
        let needs = |flag: &str, mode: &str| {
            Cli::command().error(clap::error::ErrorKind::MissingRequiredArgument, format!("{flag} can only be used with {mode}"))
        };
        if cli.dry_run && cli.pod.is_none() {
            return Err(needs("--dry-run", "-p/--pod"));
        }
        match cli.pod.map(PodAction::normalized) {
            Some(PodAction::Reset) if cli.peer.is_none() => return Err(needs("-p reset", "--peer N")),
            Some(PodAction::Recover) if cli.from.is_none() => return Err(needs("-p recover", "--from N")),
            Some(PodAction::Recover) if !cli.yes && !cli.dry_run => {
                return Err(needs(
                    "-p recover truncates the MASTER's tables and copies them again; it",
                    "--yes (or --dry-run to see the plan)",
                ));
            }
            _ => {}
        }
        if cli.peer.is_some() && cli.pod != Some(PodAction::Reset) {
            return Err(needs("--peer", "-p reset"));
        }
        if (cli.from.is_some() || cli.yes) && cli.pod != Some(PodAction::Recover) {
            return Err(needs("--from and --yes", "-p recover"));
        }
        if cli.show_password && !cli.info {
            return Err(needs("--show-password", "-i/--info"));
        }
        if cli.output != OutputFormat::Text && !(cli.info || cli.status) {
            return Err(needs("--output", "-i/--info or -s/--status"));
        }
        if cli.lag_threshold != crate::status::DEFAULT_LAG_THRESHOLD && !cli.status {
            return Err(needs("--lag-threshold", "-s/--status"));
        }
        Ok(())
    }

    /// The `-v` text: `aku <version>`.
    pub fn version_text() -> String {
        Cli::command().render_version().trim_end().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, CliError> {
        Cli::parse_args(std::iter::once("aku").chain(args.iter().copied()))
    }

    #[test]
    fn modes_are_exclusive_and_required() {
        assert!(parse(&["-i"]).unwrap().info);
        assert_eq!(parse(&["-p", "stop"]).unwrap().pod.unwrap().normalized(), PodAction::End);
        assert_eq!(parse(&["--pod", "clean"]).unwrap().pod, Some(PodAction::Clean));
        assert!(parse(&["-v"]).unwrap().version);
        assert_eq!(parse(&["-p", "reset", "--peer", "3"]).unwrap().peer, Some(3));
        assert_eq!(parse(&["-p", "recover", "--from", "1", "--yes"]).unwrap().from, Some(1));
        assert!(parse(&["-p", "recover", "--from", "1", "--dry-run"]).unwrap().dry_run);
        for bad in [
            &["-i", "-p", "start"][..],
            &["-v", "-i"],
            &[],
            &["-p", "bogus"],
            &["-V"],
            &["--show-password"],
            &["-p", "start", "--show-password"],
            &["-p", "end", "--output", "json"],
            &["-i", "--dry-run"],
            &["-p", "reset"],
            &["-p", "recover", "--from", "1"],
            &["-p", "recover", "--yes"],
            &["-p", "start", "--peer", "1"],
            &["-p", "end", "--yes"],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
