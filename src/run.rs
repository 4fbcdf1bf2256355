//! The table of contents: parse the command line → load and validate the
//! configuration → resolve this pod's identity → observe the cluster → decide the
//! procedure → execute → report. Reading files, the hostname and the environment
//! happens here and nowhere else.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::backend;
use crate::cli::{Cli, OutputFormat, PodAction};
use crate::config::{Config, EnvOverrides, PasswordSource, Secret, Syntax};
use crate::error::Error;
use crate::lifecycle::{self, Absence, Concurrency, Event, EventLevel, EventSink, Executor, Intent, MarkerChange, PeerState, marker};
use crate::odbc::connector::OdbcConnector;
use crate::topology::{self, ServerId};
use crate::{exit_code, info, logging, status};

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
            let _ = e.print();
            return e.exit_code();
        }
    };
    if cli.version {
        println!("{}", Cli::version_text());
        return exit_code::SUCCESS;
    }
    let env = ProcessEnv::from_process();
    if cli.info {
        return match print_info(&cli, &env) {
            Ok(()) => exit_code::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                e.exit_code()
            }
        };
    }
    if cli.status {
        logging::init(cli.log_format);
        return match print_status(&cli, &env) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("{e}");
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
    let bytes = std::fs::read(&path).map_err(|source| Error::Read { what: "configuration file", path: path.clone(), source })?;
    let file = path.display().to_string();
    Config::parse_bytes(&bytes, Syntax::for_path(&path), &env.overrides()).map_err(|e| Error::Config(e.with_file(&file)))
}

/// The password, reading the password file when that is its source.
pub fn resolve_password(config: &Config) -> Result<Secret, Error> {
    match &config.password {
        PasswordSource::Property(s) | PasswordSource::Environment(s) => Ok(s.clone()),
        PasswordSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
                what: "password file (AKU_SYS_PASSWORD_FILE)",
                path: path.clone(),
                source,
            })?;
            Ok(Secret::new(text.trim_end_matches(['\n', '\r'])))
        }
    }
}

/// This pod's hostname: `AKU_HOSTNAME`, else the kernel's (UTS namespace) hostname.
pub fn hostname(env: &ProcessEnv) -> String {
    env.hostname_override
        .clone()
        .unwrap_or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default())
}

fn identity(config: &Config, env: &ProcessEnv) -> Result<ServerId, Error> {
    Ok(topology::server_id_from_hostname(&hostname(env), &config.sts_name, config.server_count)?)
}

fn print_info(cli: &Cli, env: &ProcessEnv) -> Result<(), Error> {
    let config = load_config(cli.config.as_deref(), env)?;
    let password = resolve_password(&config)?;
    let me = identity(&config, env)?;
    let text = match cli.output {
        OutputFormat::Text => info::render_text(&config, me, password.expose(), cli.show_password),
        OutputFormat::Json => info::render_json(&config, me, password.expose(), cli.show_password),
    };
    print!("{text}");
    Ok(())
}

fn connector_for(config: &Arc<Config>, backend: &Arc<dyn backend::Backend>, password: Secret) -> Arc<dyn lifecycle::Connector> {
    Arc::new(OdbcConnector { config: Arc::clone(config), backend: Arc::clone(backend), password })
}

fn print_status(cli: &Cli, env: &ProcessEnv) -> Result<i32, Error> {
    let config = Arc::new(load_config(cli.config.as_deref(), env)?);
    let password = resolve_password(&config)?;
    let backend = backend::for_config(&config, env.nls_use.clone());
    let connector = connector_for(&config, &backend, password);
    let own = topology::server_id_from_hostname(&hostname(env), &config.sts_name, config.server_count)
        .ok()
        .map(|server| status::OwnPod { server, marker_present: marker::exists(&env.marker()) });
    let report = status::collect(&config, &backend, &connector, own, cli.lag_threshold);
    match cli.output {
        OutputFormat::Text => print!("{}", status::render_text(&report)),
        OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report).expect("the status report always serialises"));
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

fn intent_of(cli: &Cli, action: PodAction) -> Intent {
    match action.normalized() {
        PodAction::Start => Intent::Start,
        PodAction::End | PodAction::Stop => Intent::End,
        PodAction::Clean => Intent::Clean,
        PodAction::Reset => Intent::ResetPeer(ServerId(cli.peer.unwrap_or_default())),
        PodAction::Recover => Intent::Recover(ServerId(cli.from.unwrap_or_default())),
    }
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
    println!("AKU started with {} option.", action.option_word());
    logging::init(cli.log_format);
    match pod_procedure(cli, action, env) {
        Ok(code) => {
            println!("AKU run successfully.");
            code
        }
        Err(e) => {
            tracing::error!(func = "akuMain", pod = "-", repl = "-", "{e}");
            println!("AKU failed to run.");
            e.exit_code()
        }
    }
}

fn pod_procedure(cli: &Cli, action: PodAction, env: &ProcessEnv) -> Result<i32, Error> {
    let interrupted = install_signal_handlers();
    let config = Arc::new(load_config(cli.config.as_deref(), env)?);
    let password = resolve_password(&config)?;
    let me = identity(&config, env)?;
    let backend = backend::for_config(&config, env.nls_use.clone());
    let connector = connector_for(&config, &backend, password);
    let sink: Arc<dyn EventSink> = Arc::new(LogSink { sts: config.sts_name.clone() });
    let marker_path = env.marker();
    // AKU_ADDRESS_CHECK_COUNT is for start, when the local server may still be coming
    // up (spec 3.2); at end, clean and reset it is up or gone, so a few tries do.
    let local_attempts = match intent_of(cli, action) {
        Intent::Start | Intent::Recover(_) => config.address_check_count,
        _ => config.address_check_count.min(3),
    };
    let marker_text = marker_path.display().to_string();

    let (obs, sessions) = lifecycle::observe(&config, &backend, &connector, me, marker::exists(&marker_path), local_attempts, &sink)?;
    lifecycle::observe::warn_orphans(&config, &obs, sink.as_ref());
    let plan = lifecycle::decide(&config, intent_of(cli, action), &obs, &marker_text)?;
    if cli.dry_run {
        print!("{}", lifecycle::render::render_plan(&config, backend.as_ref(), &obs, &plan, &marker_text));
        return Ok(exit_code::SUCCESS);
    }
    tracing::info!(func = "akuRun", pod = "-", repl = "-", "{}", plan.announcement);
    let obs = Arc::new(obs);
    let executor = Executor {
        config: Arc::clone(&config),
        backend,
        sessions,
        sink,
        concurrency: Concurrency::Parallel,
        interrupted,
        vars: Arc::new(Mutex::new(std::collections::HashMap::new())),
    };
    executor.run(&plan, &obs)?;
    let marker_result = match plan.marker {
        MarkerChange::Write => marker::write(&marker_path),
        MarkerChange::Remove => marker::remove(&marker_path),
        MarkerChange::Keep => Ok(()),
    };
    marker_result.map_err(|source| lifecycle::ProcedureError::Marker { path: marker_text, source })?;
    let unanswered = obs.peers.values().any(|p| matches!(p, PeerState::Absent(Absence::Unanswered(_))));
    if unanswered && !matches!(intent_of(cli, action), Intent::Start | Intent::Recover(_)) {
        return Ok(exit_code::PEER_UNANSWERED);
    }
    Ok(exit_code::SUCCESS)
}
