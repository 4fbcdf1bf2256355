//! The table of contents: parse the command line → load and validate the
//! configuration → resolve this pod's identity → observe the cluster → decide the
//! procedure → execute → report. Reading files, the hostname and the environment
//! happens here and nowhere else.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::backend;
use crate::cli::{Cli, CliError, OutputFormat, PodAction};
use crate::config::{Config, EnvOverrides, PasswordSource, Secret, Syntax};
use crate::connect::OdbcConnector;
use crate::error::Error;
use crate::lifecycle::{self, Backend, Concurrency, Connector, Event, EventLevel, EventSink, Intent, Outcome, Run, marker};
use crate::topology::{self, ServerId};
use crate::{exit_code, help, info, input_file, logging, output, status};

/// Everything aku reads from the process environment, read once.
#[derive(Debug, Clone, Default)]
pub struct ProcessEnv {
    pub aku_conf: Option<String>,
    pub altibase_home: Option<String>,
    pub sys_password: Option<String>,
    pub sys_password_file: Option<String>,
    /// `AKU_HOSTNAME`: overrides the hostname (tests, or a hostname that is not the pod name).
    pub hostname_override: Option<String>,
    pub nls_use: Option<String>,
    /// `AKU_MARKER_FILE`: overrides `/tmp/aku_start_completed` (tests).
    pub marker_file: Option<String>,
}

impl ProcessEnv {
    pub fn from_process() -> ProcessEnv {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        ProcessEnv {
            aku_conf: var("AKU_CONF"),
            altibase_home: var("ALTIBASE_HOME"),
            sys_password: var("AKU_SYS_PASSWORD"),
            sys_password_file: var("AKU_SYS_PASSWORD_FILE"),
            hostname_override: var("AKU_HOSTNAME"),
            nls_use: var("ALTIBASE_NLS_USE"),
            marker_file: var("AKU_MARKER_FILE"),
        }
    }

    fn overrides(&self) -> EnvOverrides {
        EnvOverrides {
            sys_password: self.sys_password.clone(),
            sys_password_file: self.sys_password_file.clone(),
            altibase_home: self.altibase_home.clone(),
        }
    }

    fn marker(&self) -> PathBuf {
        PathBuf::from(self.marker_file.as_deref().unwrap_or(marker::DEFAULT_MARKER))
    }
}

/// Runs aku with `args` (the first is the program name) and returns the exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::parse_args(args) {
        Ok(cli) => cli,
        Err(e) => {
            match &e {
                CliError::HelpScreen => output::stdout(&help::screen()),
                CliError::Extension(error) => return output::printed(error.print(), e.exit_code()),
            }
            return output::result_code(e.exit_code());
        }
    };
    if cli.help {
        output::stdout(&help::screen());
        return output::result_code(exit_code::SUCCESS);
    }
    if cli.version {
        output::stdout_line(&Cli::version_text());
        return output::result_code(exit_code::SUCCESS);
    }
    let env = ProcessEnv::from_process();
    if cli.info {
        return match print_info(&cli, &env) {
            Ok(()) => output::result_code(exit_code::SUCCESS),
            Err(e) => {
                output::stderr_line(&e.to_string());
                e.exit_code()
            }
        };
    }
    if cli.status {
        logging::init(cli.log_format);
        return match print_status(&cli, &env) {
            Ok(code) => output::result_code(code),
            Err(e) => {
                output::stderr_line(&e.to_string());
                e.exit_code()
            }
        };
    }
    match cli.pod {
        Some(action) => run_pod(&cli, action, &env),
        None => exit_code::USAGE,
    }
}

/// The configuration path: `--config`, else `AKU_CONF`, else `$ALTIBASE_HOME/conf/aku.conf`.
pub fn config_path(cli_path: Option<&Path>, env: &ProcessEnv) -> Result<PathBuf, Error> {
    if let Some(p) = cli_path {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = &env.aku_conf {
        return Ok(PathBuf::from(p));
    }
    match &env.altibase_home {
        Some(home) => Ok(Path::new(home).join("conf").join("aku.conf")),
        None => Err(Error::NoConfigPath),
    }
}

/// Reads and validates the configuration.
pub fn load_config(cli_path: Option<&Path>, env: &ProcessEnv) -> Result<Config, Error> {
    let path = config_path(cli_path, env)?;
    let bytes = input_file::read(&path, input_file::MAX_CONFIG_BYTES).map_err(|source| Error::Read {
        what: "configuration file",
        path: path.clone(),
        source,
    })?;
    let file = path.display().to_string();
    Config::parse_bytes(&bytes, Syntax::for_path(&path), &env.overrides()).map_err(|e| Error::Config(e.with_file(&file)))
}

/// The password, reading the password file when that is its source.
pub fn resolve_password(config: &Config) -> Result<Secret, Error> {
    match &config.password {
        PasswordSource::Property(s) | PasswordSource::Environment(s) => Ok(s.clone()),
        PasswordSource::File(path) => {
            let text = input_file::read(path, input_file::MAX_PASSWORD_FILE_BYTES)
                .and_then(|bytes| String::from_utf8(bytes).map_err(|_| std::io::Error::other("not UTF-8 text")))
                .map_err(|source| Error::Read { what: "password file (AKU_SYS_PASSWORD_FILE)", path: path.clone(), source })?;
            Ok(Secret::new(text.trim_end_matches(['\n', '\r'])))
        }
    }
}

/// This pod's hostname: `AKU_HOSTNAME`, else the kernel's (UTS namespace) hostname.
pub fn hostname(env: &ProcessEnv) -> std::io::Result<String> {
    match &env.hostname_override {
        Some(h) => Ok(h.clone()),
        None => Ok(hostname::get()?.to_string_lossy().into_owned()),
    }
}

fn identity(config: &Config, env: &ProcessEnv) -> Result<ServerId, Error> {
    let name = hostname(env).map_err(Error::Hostname)?;
    Ok(topology::server_id_from_hostname(&name, &config.sts_name, config.server_count)?)
}

fn print_info(cli: &Cli, env: &ProcessEnv) -> Result<(), Error> {
    let config = load_config(cli.config.as_deref(), env)?;
    let password = resolve_password(&config)?;
    let me = identity(&config, env)?;
    let text = match cli.output {
        OutputFormat::Text => info::render_text(&config, me, password.expose(), cli.show_password),
        OutputFormat::Json => info::render_json(&config, me, password.expose(), cli.show_password),
    };
    output::stdout(&text);
    Ok(())
}

fn connector_for(config: &Arc<Config>, backend: &Arc<dyn Backend>, password: Secret) -> Arc<dyn Connector> {
    Arc::new(OdbcConnector { config: Arc::clone(config), backend: Arc::clone(backend), password })
}

fn print_status(cli: &Cli, env: &ProcessEnv) -> Result<i32, Error> {
    let config = Arc::new(load_config(cli.config.as_deref(), env)?);
    let password = resolve_password(&config)?;
    let backend = backend::for_config(&config, env.nls_use.clone());
    backend.check_sendable(password.expose())?;
    let connector = connector_for(&config, &backend, password);
    let own = hostname(env)
        .ok()
        .and_then(|name| topology::server_id_from_hostname(&name, &config.sts_name, config.server_count).ok())
        .map(|server| status::OwnPod { server, marker_present: marker::exists(&env.marker()) });
    let report = status::collect(&config, &backend, &connector, own, cli.lag_threshold);
    match cli.output {
        OutputFormat::Text => output::stdout(&status::render_text(&report)),
        OutputFormat::Json => {
            output::stdout_line(&serde_json::to_string_pretty(&report).expect("the status report always serialises"));
        }
    }
    Ok(if report.problems == 0 { exit_code::SUCCESS } else { exit_code::STATUS_PROBLEM })
}

/// Turns engine events into log lines.
struct LogSink {
    sts: String,
}

impl EventSink for LogSink {
    fn emit(&self, e: Event) {
        let pod = e.pod_name(&self.sts);
        let repl = e.repl.as_deref().unwrap_or("-");
        match e.level {
            EventLevel::Info => tracing::info!(func = e.func, line = e.line, pod, repl, "{}", e.message),
            EventLevel::Warn => tracing::warn!(func = e.func, line = e.line, pod, repl, "{}", e.message),
            EventLevel::Error => tracing::error!(func = e.func, line = e.line, pod, repl, "{}", e.message),
        }
    }
}

/// The intent of `-p ACTION`, with `--peer` / `--from` checked against
/// `AKU_SERVER_COUNT` (a wrong value is a usage error, exit 2).
fn intent_of(cli: &Cli, action: PodAction, config: &Config) -> Result<Intent, Error> {
    let server = |flag: &str, value: Option<u8>, first: u8| {
        let n = value.unwrap_or_default();
        if n < first || n >= config.server_count {
            return Err(Error::Usage(format!(
                "{flag} {n} is not a server ID of this StatefulSet: expected {first}..{} (AKU_SERVER_COUNT = {})",
                config.server_count.saturating_sub(1),
                config.server_count
            )));
        }
        Ok(ServerId(n))
    };
    Ok(match action.normalized() {
        PodAction::Start => Intent::Start,
        PodAction::End | PodAction::Stop => Intent::End,
        PodAction::Clean => Intent::Clean,
        PodAction::Reset => Intent::ResetPeer(server("--peer", cli.peer, 0)?),
        PodAction::Recover => Intent::Recover(server("--from", cli.from, 1)?),
    })
}

/// SIGTERM/SIGINT: the first sets the returned flag (the engine finishes the
/// current step, then stops with exit code INTERRUPTED); the second exits at once
/// with the same code. A preStop hook's grace period can end mid-run.
fn install_signal_handlers() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // Order matters: the conditional shutdown sees the flag set by an earlier signal.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, exit_code::INTERRUPTED, Arc::clone(&flag));
        let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
    }
    flag
}

fn run_pod(cli: &Cli, action: PodAction, env: &ProcessEnv) -> i32 {
    output::stdout_line(&format!("AKU started with {} option.", action.option_word()));
    logging::init(cli.log_format);
    match pod_procedure(cli, action, env) {
        Ok(code) => {
            output::stdout_line("AKU run successfully.");
            code
        }
        Err(e) => {
            tracing::error!(func = "akuMain", pod = "-", repl = "-", "{e}");
            output::stdout_line("AKU failed to run.");
            e.exit_code()
        }
    }
}

fn pod_procedure(cli: &Cli, action: PodAction, env: &ProcessEnv) -> Result<i32, Error> {
    let interrupted = install_signal_handlers();
    let config = Arc::new(load_config(cli.config.as_deref(), env)?);
    let intent = intent_of(cli, action, &config)?;
    let password = resolve_password(&config)?;
    let me = identity(&config, env)?;
    let backend = backend::for_config(&config, env.nls_use.clone());
    backend.check_sendable(password.expose())?;
    let connector = connector_for(&config, &backend, password);
    let sink: Arc<dyn EventSink> = Arc::new(LogSink { sts: config.sts_name.clone() });
    let run =
        Run { config, backend, intent, marker: env.marker(), dry_run: cli.dry_run, interrupted, concurrency: Concurrency::Parallel, sink };
    match lifecycle::run_procedure(&run, &connector, me)? {
        Outcome::Planned { text } => {
            output::stdout(&text);
            Ok(exit_code::SUCCESS)
        }
        Outcome::Completed { code, .. } => Ok(code),
    }
}
