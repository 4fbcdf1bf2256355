//! How a value is written into an ODBC connection string so that the driver
//! reads back exactly that value. Each reader has its own rules, read in their
//! sources and checked against a fake server (`tests/e2e/test_connection_string.py`):
//!
//! - unixODBC 2.3 (the driver manager) reads `DRIVER=` (and `DSN=`) itself: a
//!   value in braces `{…}` with `}` doubled is the text between them. It hands the
//!   string on to the driver unchanged.
//! - psqlODBC 13 removes the braces (and undoubles `}`) only for `PWD`,
//!   `ConnSettings` and `pqopt`. A bare value there is URL-decoded (`+` → space,
//!   `%41` → `A`) and one that starts with `{` is read up to a matching `}`
//!   (today's `PWD={pw` swallowed the `pqopt` that followed it). `Server`, `Port`,
//!   `Database` and `UID` are taken verbatim, braces included: they must be bare.
//! - The Altibase CLI/ODBC driver (`ulnConnStrParse`) knows no braces at all: a
//!   value runs to the next `;`, leading and trailing blanks dropped, and a value
//!   that starts with `"`, `(` or `[` is parsed as a quoted, list or address
//!   form. So only a value without those can be sent, and it is sent bare.
//!
//! The builders are in the backends; this module owns the quoting and the
//! checks, and never logs or stores a value.

/// `{value}` with every `}` doubled: a braced ODBC value, read back exactly by
/// unixODBC (`DRIVER`) and psqlODBC (`PWD`, `pqopt`).
pub fn braced(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('{');
    for c in value.chars() {
        out.push(c);
        if c == '}' {
            out.push('}');
        }
    }
    out.push('}');
    out
}

/// Why `value` cannot be written bare (read verbatim up to the next `;` by every
/// driver aku uses), or `None` when it can.
pub fn bare_problem(value: &str) -> Option<&'static str> {
    let first = value.chars().next();
    if value.contains(';') {
        Some("it contains ';'")
    } else if value.contains('\0') {
        Some("it contains a NUL character")
    } else if first.is_some_and(char::is_whitespace) || value.chars().next_back().is_some_and(char::is_whitespace) {
        Some("it starts or ends with a blank")
    } else if matches!(first, Some('{' | '"' | '(' | '[')) {
        Some("it starts with '{', '\"', '(' or '['")
    } else {
        None
    }
}

/// A value psqlODBC takes verbatim (`Server`, `Port`, `Database`, `UID`): bare.
/// Those come from validated names (DNS labels, plain identifiers, numbers) and
/// are always bare-safe; should one not be, it is braced, which psqlODBC would
/// send on braces included (a failed login) rather than read as more attributes.
pub fn verbatim(value: &str) -> std::borrow::Cow<'_, str> {
    if bare_problem(value).is_none() { value.into() } else { braced(value).into() }
}

/// A value the driver could not receive exactly; refused before any connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot be sent to the {driver} exactly: {problem}{why}")]
pub struct Unsendable {
    pub what: &'static str,
    pub driver: &'static str,
    pub problem: &'static str,
    pub why: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BackendKind, Config, EnvOverrides, Syntax};
    use crate::lifecycle::port::{Backend, Target};
    use crate::topology::ServerId;

    fn config(backend: &str) -> Config {
        let text = format!(
            "AKU_STS_NAME = pg\nAKU_SVC_NAME = svc\nAKU_SYS_PASSWORD = x\nAKU_BACKEND = {backend}\nAKU_PORT_NO = 25432\n\
             REPLICATIONS = ( REPLICATION_NAME_PREFIX = R ( S.T ) )\n"
        );
        Config::parse(&text, Syntax::AkuConf, &EnvOverrides::default()).unwrap()
    }

    fn target() -> Target {
        Target { server: ServerId(0), host: "pg-0.svc".into(), address: "10.251.0.10".into(), privileged: false, login_timeout_s: 5 }
    }

    #[test]
    fn the_postgresql_string_braces_the_password_the_driver_and_pqopt() {
        let s = crate::backend::Postgres.connection_string(&config("postgresql"), &target(), "{pw");
        assert_eq!(
            s,
            "Driver={PostgreSQL Unicode};Server=pg-0.svc;Port=25432;Database=postgres;UID=postgres;PWD={{pw};\
             pqopt={hostaddr=10.251.0.10 application_name=aku keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 \
             tcp_user_timeout=15000};"
        );
        let s = crate::backend::Postgres.connection_string(&config("postgresql"), &target(), "a}};b");
        assert!(s.contains(";PWD={a}}}};b};pqopt="), "{s}");
    }

    #[test]
    fn the_altibase_string_is_bare_but_for_the_driver() {
        let backend = crate::backend::Altibase { nls_use: Some("UTF8".into()) };
        let mut t = target();
        assert_eq!(
            backend.connection_string(&config("altibase"), &t, "pa}ss{w+rd"),
            "DRIVER={libaltibase_odbc-64bit-ul64.so};DSN=10.251.0.10;PORT_NO=25432;UID=SYS;PWD=pa}ss{w+rd;CONNTYPE=1;LOGIN_TIMEOUT=5;\
             NLS_USE=UTF8"
        );
        t.privileged = true;
        assert!(backend.connection_string(&config("altibase"), &t, "pw").ends_with(";NLS_USE=UTF8;PRIVILEGE=SYSDBA"));
    }

    fn check(kind: BackendKind, password: &str, nls_use: Option<&str>) -> Result<(), Unsendable> {
        let backend: Box<dyn Backend> = match kind {
            BackendKind::Postgresql => Box::new(crate::backend::Postgres),
            BackendKind::Altibase => Box::new(crate::backend::Altibase { nls_use: nls_use.map(str::to_owned) }),
        };
        backend.check_sendable(password)
    }

    #[test]
    fn what_a_driver_could_not_receive_exactly_is_refused() {
        assert_eq!(check(BackendKind::Postgresql, "{p;w} \"'", None), Ok(()));
        assert_eq!(
            check(BackendKind::Postgresql, "p\0w", None).unwrap_err().to_string(),
            "The password cannot be sent to the PostgreSQL ODBC driver exactly: it contains a NUL character"
        );
        assert_eq!(check(BackendKind::Altibase, "pa}ss+w%41rd", Some("UTF8")), Ok(()));
        assert_eq!(
            check(BackendKind::Altibase, "p;w", None).unwrap_err().to_string(),
            "The password cannot be sent to the Altibase ODBC driver exactly: it contains ';' (its connection strings have no quoting); change it"
        );
        assert_eq!(
            check(BackendKind::Altibase, "pw", Some("UTF8;PRIVILEGE=SYSDBA")).unwrap_err().to_string(),
            "ALTIBASE_NLS_USE cannot be sent to the Altibase ODBC driver exactly: it contains ';' (its connection strings have no quoting); change it"
        );
        assert!(check(BackendKind::Altibase, "{pw}", None).is_err());
    }

    #[test]
    fn braced_doubles_every_closing_brace_and_nothing_else() {
        assert_eq!(braced("pw"), "{pw}");
        assert_eq!(braced("{pw}"), "{{pw}}}");
        assert_eq!(braced("{pw"), "{{pw}");
        assert_eq!(braced("pw}"), "{pw}}}");
        assert_eq!(braced("p;w=x"), "{p;w=x}");
        assert_eq!(braced("}};"), "{}}}};}");
        assert_eq!(braced(""), "{}");
        assert_eq!(braced("pä€w"), "{pä€w}");
    }

    #[test]
    fn bare_values_are_those_every_reader_takes_verbatim() {
        for ok in ["manager", "pw}", "p}w{", "p+w", "p%41w", "p w", "p=w", "p'w", "p\"w", "p\\w", "pä€w", "10.251.0.10", "pg-0.svc", "UTF8"]
        {
            assert_eq!(bare_problem(ok), None, "{ok}");
        }
        let cases = [
            ("p;w", "it contains ';'"),
            ("p\0w", "it contains a NUL character"),
            (" pw", "it starts or ends with a blank"),
            ("pw\t", "it starts or ends with a blank"),
            ("{pw}", "it starts with '{', '\"', '(' or '['"),
            ("\"pw\"", "it starts with '{', '\"', '(' or '['"),
            ("(pw", "it starts with '{', '\"', '(' or '['"),
            ("[pw", "it starts with '{', '\"', '(' or '['"),
        ];
        for (value, problem) in cases {
            assert_eq!(bare_problem(value), Some(problem), "{value:?}");
        }
    }

    #[test]
    fn verbatim_values_are_bare_when_safe() {
        assert_eq!(verbatim("postgres"), "postgres");
        assert_eq!(verbatim("a;b"), "{a;b}");
    }
}
