//! The real [`Connector`]: resolve the server's name under our own deadline
//! (the ODBC login timeout does not cover DNS), then log in through ODBC with an
//! explicit login timeout, retrying with privilege when the backend asks for it,
//! and run the backend's session settings.

use std::net::ToSocketAddrs;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::config::{Config, Secret};
use crate::lifecycle::port::{Absence, Backend, Connector, Target};
use crate::odbc::{Session, real};
use crate::topology::ServerId;

/// Deadline for resolving a name.
pub const DNS_DEADLINE: Duration = Duration::from_secs(3);

/// Login timeout for every ODBC connection, in seconds.
pub const LOGIN_TIMEOUT_S: u32 = 5;

/// Client-side deadline for a whole connection: name resolution, the login (twice
/// when it is retried with privilege) and the session settings. A server that logs
/// in and then goes silent cannot hold a connection longer.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(20);

/// Server-side timeout of each session setting, in seconds.
const SETUP_TIMEOUT_S: u32 = 5;

/// Connects through ODBC.
pub struct OdbcConnector {
    pub config: Arc<Config>,
    pub backend: Arc<dyn Backend>,
    pub password: Secret,
}

impl std::fmt::Debug for OdbcConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OdbcConnector").finish_non_exhaustive()
    }
}

/// Resolves `host` to one address (IPv4 preferred) within `deadline`.
pub fn resolve(host: &str, port: u16, deadline: Duration) -> Result<String, Absence> {
    let (tx, rx) = mpsc::channel();
    let name = host.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>));
    });
    match rx.recv_timeout(deadline) {
        Ok(Ok(addrs)) => {
            let pick = addrs.iter().find(|a| a.is_ipv4()).or_else(|| addrs.first());
            pick.map(|a| a.ip().to_string()).ok_or_else(|| Absence::NotResolved(format!("{host} has no address")))
        }
        Ok(Err(e)) => Err(Absence::NotResolved(format!("{host} does not resolve ({e})"))),
        Err(_) => Err(Absence::Unanswered(format!("resolving {host} took longer than {} s", deadline.as_secs()))),
    }
}

/// Why a login failed: refused by the server (the backend tells), or the driver
/// could not be used (SQLSTATE class IM from the driver manager, e.g. IM002 no such
/// driver, IM003 it cannot be loaded; unixODBC reports a missing library file as
/// 01000 `[unixODBC][Driver Manager]Can't open lib …`).
fn login_failure(backend: &dyn Backend, e: &crate::odbc::DbError) -> Absence {
    let driver_manager = e.message.starts_with("[unixODBC][Driver Manager]Can't open lib");
    if backend.login_refused(e) {
        Absence::LoginRefused(e.to_string())
    } else if e.sqlstate.starts_with("IM") || driver_manager {
        Absence::DriverUnavailable(e.to_string())
    } else {
        Absence::ConnectFailed(e.to_string())
    }
}

impl Connector for OdbcConnector {
    /// Connects under [`CONNECT_DEADLINE`], on a helper thread that is left behind
    /// when the server does not answer in time.
    fn connect(&self, server: ServerId, host: &str) -> Result<Box<dyn Session>, Absence> {
        let (tx, rx) = mpsc::channel();
        let this = OdbcConnector { config: Arc::clone(&self.config), backend: Arc::clone(&self.backend), password: self.password.clone() };
        let name = host.to_owned();
        std::thread::spawn(move || {
            let _ = tx.send(this.connect_now(server, &name));
        });
        match rx.recv_timeout(CONNECT_DEADLINE) {
            Ok(result) => result,
            Err(_) => Err(Absence::Unanswered(format!(
                "connecting and setting up the session took longer than {} s (the server stopped answering)",
                CONNECT_DEADLINE.as_secs()
            ))),
        }
    }
}

impl OdbcConnector {
    fn connect_now(&self, server: ServerId, host: &str) -> Result<Box<dyn Session>, Absence> {
        let address = resolve(host, self.config.port_no, DNS_DEADLINE)?;
        let mut target = Target { server, host: host.to_owned(), address, privileged: false, login_timeout_s: LOGIN_TIMEOUT_S };
        let login = |target: &Target| {
            let started = Instant::now();
            let cs = self.backend.connection_string(&self.config, target, self.password.expose());
            real::connect(&cs, LOGIN_TIMEOUT_S).map_err(|e| (e, started.elapsed()))
        };
        let mut result = login(&target);
        if let Err((e, _)) = &result {
            if self.backend.needs_privilege(e) && !e.message.starts_with("[unixODBC][Driver Manager]") {
                target.privileged = true;
                result = login(&target);
            }
        }
        let mut session = match result {
            Ok(session) => session,
            Err((e, elapsed)) if elapsed >= Duration::from_secs(u64::from(LOGIN_TIMEOUT_S)) => {
                return Err(Absence::Unanswered(format!("no answer within {LOGIN_TIMEOUT_S} s ({e})")));
            }
            Err((e, _)) => return Err(login_failure(self.backend.as_ref(), &e)),
        };
        for sql in self.backend.session_setup(&self.config) {
            session.execute(&sql, SETUP_TIMEOUT_S).map_err(|e| Absence::ConnectFailed(format!("session setup `{sql}` failed: {e}")))?;
        }
        Ok(Box::new(session))
    }
}
