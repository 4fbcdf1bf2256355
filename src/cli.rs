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
    about = "Keeps the database servers of a Kubernetes StatefulSet replicated as pods come and go.",
    after_help = "Configuration: --config PATH, else $AKU_CONF, else $ALTIBASE_HOME/conf/aku.conf.\n\
                  Exit codes: see docs/exit-codes.md."
)]
#[command(group(ArgGroup::new("mode").required(true).multiple(false)))]
pub struct Cli {
    /// Print the version.
    #[arg(short = 'v', long = "version", group = "mode")]
    pub version: bool,

    /// Print the parsed configuration and this pod's replications.
    #[arg(short = 'i', long = "info", group = "mode")]
    pub info: bool,

    /// Run a pod procedure: start (after the server starts), end/stop (before it stops), clean.
    #[arg(short = 'p', long = "pod", value_enum, value_name = "ACTION", group = "mode")]
    pub pod: Option<PodAction>,

    /// Configuration file (extension). A path ending in .toml is read as TOML.
    #[arg(long = "config", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Output format of -i (extension).
    #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Show the password in -i output instead of ******** (extension).
    #[arg(long = "show-password")]
    pub show_password: bool,

    /// With -p: observe and decide, print the plan (per server, in order, the exact
    /// SQL) and change nothing (extension).
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Log line format (extension).
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Aku)]
    pub log_format: LogFormat,
}

impl Cli {
    /// Parses `args`, also enforcing which extensions need which mode (clap's
    /// `requires` does not fire for flags).
    pub fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args)?;
        let needs = |flag: &str, mode: &str| {
            Cli::command().error(clap::error::ErrorKind::MissingRequiredArgument, format!("{flag} can only be used with {mode}"))
        };
        if cli.dry_run && cli.pod.is_none() {
            return Err(needs("--dry-run", "-p/--pod"));
        }
        if (cli.show_password || cli.output != OutputFormat::Text) && !cli.info {
            return Err(needs("--show-password and --output", "-i/--info"));
        }
        Ok(cli)
    }

    /// The `-v` text: `aku <version>`.
    pub fn version_text() -> String {
        Cli::command().render_version().trim_end().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_args(std::iter::once("aku").chain(args.iter().copied()))
    }

    #[test]
    fn modes_are_exclusive_and_required() {
        assert!(parse(&["-i"]).unwrap().info);
        assert_eq!(parse(&["-p", "stop"]).unwrap().pod.unwrap().normalized(), PodAction::End);
        assert_eq!(parse(&["--pod", "clean"]).unwrap().pod, Some(PodAction::Clean));
        assert!(parse(&["-v"]).unwrap().version);
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
