//! Validation tests: defaults, ranges, password sources, groups, and every
//! validation error with its exact message.

use std::path::PathBuf;

use crate::config::{BackendKind, Config, EnvOverrides, PasswordSource, ReplicationGroup, ReplicationItem, Secret, Syntax};

const REQUIRED: &str = "AKU_STS_NAME = altibase-sts\nAKU_SVC_NAME = altibase-svc\nAKU_SYS_PASSWORD = manager\n";
const GROUP: &str = "REPLICATIONS = ( REPLICATION_NAME_PREFIX = AKU_REP ( SYS.T1, SYS.T2 ) )\n";

fn parse_env(text: &str, env: &EnvOverrides) -> Result<Config, String> {
    Config::parse(text, Syntax::AkuConf, env).map_err(|e| e.to_string())
}

fn parse(text: &str) -> Result<Config, String> {
    parse_env(text, &EnvOverrides::default())
}

/// The required properties, `extra` (lines 4..), then a one-group REPLICATIONS.
fn with(extra: &str) -> Result<Config, String> {
    parse(&format!("{REQUIRED}{extra}\n{GROUP}"))
}

fn err(extra: &str) -> String {
    with(extra).unwrap_err()
}

fn item(user: &str, table: &str, partition: Option<&str>) -> ReplicationItem {
    ReplicationItem { user: user.into(), table: table.into(), partition: partition.map(Into::into) }
}

#[test]
fn defaults_of_every_optional_property() {
    let c = with("").unwrap();
    assert_eq!(
        c,
        Config {
            sts_name: "altibase-sts".into(),
            svc_name: "altibase-svc".into(),
            server_count: 4,
            sys_user: "SYS".into(),
            password: PasswordSource::Property(Secret::new("manager")),
            port_no: 20300,
            replication_port_no: 20301,
            query_timeout_s: 3600,
            query_retry_count: 5,
            query_retry_delay_ms: 1000,
            address_check_count: 30,
            flush_at_start: true,
            flush_timeout_at_start_s: 300,
            delay_start_complete_s: 0,
            flush_at_end: true,
            replication_reset_at_end: true,
            backend: BackendKind::Altibase,
            database: "postgres".into(),
            odbc_driver: "libaltibase_odbc-64bit-ul64.so".into(),
            groups: vec![ReplicationGroup {
                prefix: "AKU_REP".into(),
                sync_parallel_count: 1,
                items: vec![item("SYS", "T1", None), item("SYS", "T2", None)],
            }],
        }
    );
}

#[test]
fn every_property_set_explicitly() {
    let c = with(
        "AKU_SERVER_COUNT = 6\nAKU_PORT_NO = 1024\nAKU_REPLICATION_PORT_NO = 65535\nAKU_QUERY_TIMEOUT = 4294967295\n\
         AKU_QUERY_RETRY_COUNT = 0\nAKU_QUERY_RETRY_DELAY_MSEC = 0\nAKU_ADDRESS_CHECK_COUNT = 1\nAKU_FLUSH_AT_START = 0\n\
         AKU_FLUSH_TIMEOUT_AT_START = 0\nAKU_DELAY_START_COMPLETE_TIME = 10\nAKU_FLUSH_AT_END = 0\n\
         AKU_REPLICATION_RESET_AT_END = 0\nAKU_BACKEND = postgresql\nAKU_SYS_USER = aku_admin\nAKU_DATABASE = app\n\
         AKU_ODBC_DRIVER = \"PostgreSQL ANSI\"",
    )
    .unwrap();
    assert_eq!((c.server_count, c.port_no, c.replication_port_no), (6, 1024, 65535));
    assert_eq!((c.query_timeout_s, c.query_retry_count, c.query_retry_delay_ms), (u32::MAX, 0, 0));
    assert_eq!((c.address_check_count, c.flush_timeout_at_start_s, c.delay_start_complete_s), (1, 0, 10));
    assert!(!c.flush_at_start && !c.flush_at_end && !c.replication_reset_at_end);
    assert_eq!((c.backend, c.sys_user.as_str(), c.database.as_str()), (BackendKind::Postgresql, "aku_admin", "app"));
    assert_eq!(c.odbc_driver, "PostgreSQL ANSI");
}

#[test]
fn postgresql_defaults() {
    let c = with("AKU_BACKEND = postgresql").unwrap();
    assert_eq!((c.sys_user.as_str(), c.odbc_driver.as_str()), ("postgres", "PostgreSQL Unicode"));
    assert_eq!(err("AKU_BACKEND = mysql"), "aku.conf:4:15: AKU_BACKEND = mysql is not one of the choices; allowed: altibase or postgresql");
}

#[test]
fn altibase_driver_default_follows_altibase_home() {
    let env = EnvOverrides { altibase_home: Some("/opt/altibase/".into()), ..EnvOverrides::default() };
    let c = parse_env(&format!("{REQUIRED}{GROUP}"), &env).unwrap();
    assert_eq!(c.odbc_driver, "/opt/altibase/lib/libaltibase_odbc-64bit-ul64.so");
}

#[test]
fn out_of_range_and_wrong_type_messages() {
    let cases = [
        ("AKU_SERVER_COUNT = 9", "aku.conf:4:20: AKU_SERVER_COUNT = 9 is out of range; allowed: 1..6"),
        ("AKU_SERVER_COUNT = 0", "aku.conf:4:20: AKU_SERVER_COUNT = 0 is out of range; allowed: 1..6"),
        ("AKU_SERVER_COUNT = \"4 \"", "aku.conf:4:20: AKU_SERVER_COUNT = \"4 \" is not a whole number; allowed: 1..6"),
        ("AKU_PORT_NO = 80", "aku.conf:4:15: AKU_PORT_NO = 80 is out of range; allowed: 1024..65535"),
        ("AKU_REPLICATION_PORT_NO = 65536", "aku.conf:4:27: AKU_REPLICATION_PORT_NO = 65536 is out of range; allowed: 1024..65535"),
        ("AKU_QUERY_TIMEOUT = 0", "aku.conf:4:21: AKU_QUERY_TIMEOUT = 0 is out of range; allowed: 1..4294967295"),
        ("AKU_QUERY_RETRY_COUNT = 1.5", "aku.conf:4:25: AKU_QUERY_RETRY_COUNT = 1.5 is not a whole number; allowed: 0..4294967295"),
        (
            "AKU_QUERY_RETRY_DELAY_MSEC = 4294967296",
            "aku.conf:4:30: AKU_QUERY_RETRY_DELAY_MSEC = 4294967296 is out of range; allowed: 0..4294967295",
        ),
        ("AKU_ADDRESS_CHECK_COUNT = 0", "aku.conf:4:27: AKU_ADDRESS_CHECK_COUNT = 0 is out of range; allowed: 1..4294967295"),
        ("AKU_FLUSH_AT_START = 2", "aku.conf:4:22: AKU_FLUSH_AT_START = 2 is out of range; allowed: 0 or 1"),
        ("AKU_FLUSH_TIMEOUT_AT_START = -5", "aku.conf:4:30: AKU_FLUSH_TIMEOUT_AT_START = -5 is out of range; allowed: 0..4294967295"),
        (
            "AKU_DELAY_START_COMPLETE_TIME = soon",
            "aku.conf:4:33: AKU_DELAY_START_COMPLETE_TIME = soon is not a whole number; allowed: 0..4294967295",
        ),
        ("AKU_FLUSH_AT_END = true", "aku.conf:4:20: AKU_FLUSH_AT_END = true is not 0 or 1; allowed: 0 or 1"),
        ("AKU_REPLICATION_RESET_AT_END =", "aku.conf:4:31: AKU_REPLICATION_RESET_AT_END = \"\" is not 0 or 1; allowed: 0 or 1"),
        ("AKU_ODBC_DRIVER = \"\"", "aku.conf:4:19: AKU_ODBC_DRIVER = \"\" is empty; allowed: an ODBC driver name or driver library path"),
    ];
    for (line, message) in cases {
        assert_eq!(err(line), message, "{line}");
    }
}

#[test]
fn missing_or_empty_required_properties() {
    let missing = |name: &str| format!("Property [{name}] should be specified by configuration.");
    assert_eq!(parse("").unwrap_err(), missing("AKU_STS_NAME"));
    assert_eq!(parse("AKU_STS_NAME = \"\"").unwrap_err(), missing("AKU_STS_NAME"));
    assert_eq!(parse("AKU_STS_NAME = a\nAKU_SVC_NAME =").unwrap_err(), missing("AKU_SVC_NAME"));
    assert_eq!(parse("AKU_STS_NAME = a\nAKU_SVC_NAME = b").unwrap_err(), missing("AKU_SYS_PASSWORD"));
    assert_eq!(parse(REQUIRED).unwrap_err(), missing("REPLICATIONS"));
    assert_eq!(parse(&format!("{REQUIRED}REPLICATIONS =")).unwrap_err(), missing("REPLICATIONS"));
    assert_eq!(parse(&format!("{REQUIRED}REPLICATIONS = ( )")).unwrap_err(), missing("REPLICATIONS"));
    let no_items = format!("{REQUIRED}REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( ) )");
    assert_eq!(parse(&no_items).unwrap_err(), missing("REPLICATIONS"));
    let no_list = format!("{REQUIRED}REPLICATIONS = ( REPLICATION_NAME_PREFIX = A )");
    assert_eq!(parse(&no_list).unwrap_err(), missing("REPLICATIONS"));
    let no_prefix = format!("{REQUIRED}REPLICATIONS = ( SYNC_PARALLEL_COUNT = 2 ( SYS.T1 ) )");
    assert_eq!(parse(&no_prefix).unwrap_err(), missing("REPLICATION_NAME_PREFIX"));
    let empty_prefix = format!("{REQUIRED}REPLICATIONS = ( REPLICATION_NAME_PREFIX = \"\" ( SYS.T1 ) )");
    assert_eq!(parse(&empty_prefix).unwrap_err(), missing("REPLICATION_NAME_PREFIX"));
}

const NO_PASSWORD: &str = "AKU_STS_NAME = s\nAKU_SVC_NAME = v\n";

#[test]
fn password_sources_in_order_of_precedence() {
    let env_password = EnvOverrides { sys_password: Some("from-env".into()), ..EnvOverrides::default() };
    let env_file = EnvOverrides { sys_password_file: Some("/run/secret".into()), ..EnvOverrides::default() };
    let both = EnvOverrides { sys_password: Some("from-env".into()), ..env_file.clone() };
    let file_and_password = format!("{NO_PASSWORD}AKU_SYS_PASSWORD_FILE = /etc/pw\nAKU_SYS_PASSWORD = p\n{GROUP}");
    let source = |text: &str, env: &EnvOverrides| parse_env(text, env).unwrap().password;
    assert_eq!(source(&file_and_password, &both), PasswordSource::Environment(Secret::new("from-env")));
    assert_eq!(source(&file_and_password, &env_file), PasswordSource::File(PathBuf::from("/run/secret")));
    assert_eq!(source(&file_and_password, &EnvOverrides::default()), PasswordSource::File(PathBuf::from("/etc/pw")));
    let only_password = format!("{NO_PASSWORD}AKU_SYS_PASSWORD = p\n{GROUP}");
    assert_eq!(source(&only_password, &EnvOverrides::default()), PasswordSource::Property(Secret::new("p")));
    // Without any source in the file, the environment alone is enough.
    let none = format!("{NO_PASSWORD}{GROUP}");
    assert_eq!(source(&none, &env_password), PasswordSource::Environment(Secret::new("from-env")));
    let empty_env = EnvOverrides { sys_password: Some(String::new()), ..EnvOverrides::default() };
    assert_eq!(parse_env(&none, &empty_env).unwrap_err(), "Property [AKU_SYS_PASSWORD] should be specified by configuration.");
}

#[test]
fn the_7_1_password_spelling_is_an_alias() {
    let c = parse(&format!("{NO_PASSWORD}AKU_SYS_PASWWORD = \"manager\"\n{GROUP}")).unwrap();
    assert_eq!(c.password, PasswordSource::Property(Secret::new("manager")));
    assert_eq!(
        parse(&format!("{NO_PASSWORD}AKU_SYS_PASWWORD = a\nAKU_SYS_PASSWORD = b\n{GROUP}")).unwrap_err(),
        "aku.conf:4:1: duplicate property AKU_SYS_PASSWORD (already set at 3:1 as AKU_SYS_PASWWORD)"
    );
}

#[test]
fn duplicates() {
    assert_eq!(err("AKU_STS_NAME = other"), "aku.conf:4:1: duplicate property AKU_STS_NAME (first set at 1:1)");
    assert_eq!(err(GROUP), "aku.conf:6:1: duplicate property REPLICATIONS (first set at 4:1)");
    let group = |body: &str| parse(&format!("{REQUIRED}REPLICATIONS = {body}")).unwrap_err();
    assert_eq!(
        group("( REPLICATION_NAME_PREFIX = A\n SYNC_PARALLEL_COUNT = 1 SYNC_PARALLEL_COUNT = 2 ( SYS.T1 ) )"),
        "aku.conf:5:26: duplicate property SYNC_PARALLEL_COUNT (first set at 5:2)"
    );
    assert_eq!(
        group("( REPLICATION_NAME_PREFIX = A ( SYS.T1 ) ),\n( REPLICATION_NAME_PREFIX = a ( SYS.T1 ) )"),
        "aku.conf:5:29: duplicate REPLICATION_NAME_PREFIX a (first used at 4:44); each group needs its own prefix \
         because replication names are <prefix>_<i><j>"
    );
    assert_eq!(
        group("( REPLICATION_NAME_PREFIX = A ( SYS.T1 PARTITION P1, SYS.T2,\n sys.t1 partition p1 ) )"),
        "aku.conf:5:2: duplicate item sys.t1 PARTITION p1 in group A (first listed at 4:48)"
    );
    // The whole table and one of its partitions are different items.
    assert!(parse(&format!("{REQUIRED}REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( SYS.T1, SYS.T1 PARTITION P ) )")).is_ok());
}

#[test]
fn unknown_and_misplaced_properties() {
    assert_eq!(err("AKU_SERVER_CONT = 4"), "aku.conf:4:1: unknown property AKU_SERVER_CONT (did you mean AKU_SERVER_COUNT?)");
    assert_eq!(
        err("SYNC_PARALLEL_COUNT = 4"),
        "aku.conf:4:1: property SYNC_PARALLEL_COUNT belongs inside a REPLICATIONS group, before its item list"
    );
    let in_group = parse(&format!("{REQUIRED}REPLICATIONS = ( AKU_PORT_NO = 1 REPLICATION_NAME_PREFIX = A ( SYS.T1 ) )"));
    assert_eq!(in_group.unwrap_err(), "aku.conf:4:18: property AKU_PORT_NO belongs at the top level, not inside a REPLICATIONS group");
}

#[test]
fn names_over_their_byte_limits() {
    let long = |n: usize| "A".repeat(n);
    let sts = parse(&format!("AKU_STS_NAME = {}\nAKU_SVC_NAME = v\nAKU_SYS_PASSWORD = p\n{GROUP}", "a".repeat(64)));
    assert_eq!(sts.unwrap_err(), format!("aku.conf:1:16: AKU_STS_NAME = {} is 64 bytes long; allowed: 1..63 bytes", "a".repeat(64)));
    let group = |prefix: &str, items: &str| {
        parse(&format!("{REQUIRED}REPLICATIONS = ( REPLICATION_NAME_PREFIX = {prefix} ( {items} ) )")).map(|_| ())
    };
    assert!(group(&long(37), "SYS.T1").is_ok());
    assert_eq!(
        group(&long(38), "SYS.T1").unwrap_err(),
        format!(
            "aku.conf:4:44: REPLICATION_NAME_PREFIX = {} is 38 bytes long; allowed: 1..37 bytes, because replication \
             names <prefix>_<i><j> add 3 bytes and Altibase allows at most 40",
            long(38)
        )
    );
    assert!(group("A", &format!("{0}.{0} PARTITION {0}", long(128))).is_ok());
    let table = format!("SYS.{}", long(129));
    assert_eq!(
        group("A", &table).unwrap_err(),
        format!("aku.conf:4:52: table name {}… of item SYS.{}… is 129 bytes long; allowed: 1..128 bytes", long(64), long(64))
    );
    let pg = parse(&format!("{REQUIRED}AKU_BACKEND = postgresql\nREPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( SYS.{} ) )", long(64)));
    assert!(pg.unwrap_err().contains("is 64 bytes long; allowed: 1..63 bytes"));
}

#[test]
fn identifiers_that_would_be_unsafe_in_sql_are_refused() {
    let tail = "names must match [A-Za-z_][A-Za-z0-9_$]* because anything else would be unsafe or ambiguous in SQL";
    let group = |items: &str| parse(&format!("{REQUIRED}REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( {items} ) )")).unwrap_err();
    assert_eq!(
        group("SYS.T1;DROP"),
        format!("aku.conf:4:52: table name T1;DROP of item SYS.T1;DROP is not a plain identifier: it contains ';'; {tail}")
    );
    assert_eq!(
        group("SYS.T1.X"),
        format!("aku.conf:4:52: table name T1.X of item SYS.T1.X is not a plain identifier: it contains '.'; {tail}")
    );
    assert_eq!(
        group("( USER_NAME = \"SYS\" TABLE_NAME = \"T 1\" )"),
        format!("aku.conf:4:81: table name \"T 1\" of item SYS.\"T 1\" is not a plain identifier: it contains a space; {tail}")
    );
    assert_eq!(
        group("( USER_NAME = \"S'\" TABLE_NAME = T )"),
        format!("aku.conf:4:62: user name S' of item S'.T is not a plain identifier: it contains '''; {tail}")
    );
    assert_eq!(
        group("( USER_NAME = SYS TABLE_NAME = \"T#1\" )"),
        format!("aku.conf:4:79: table name T#1 of item SYS.T#1 is not a plain identifier: it contains '#'; {tail}")
    );
    assert_eq!(
        group("SYS.T1 PARTITION \"P--1\""),
        format!("aku.conf:4:65: partition name P--1 of item SYS.T1 PARTITION P--1 is not a plain identifier: it contains '-'; {tail}")
    );
    let prefix = parse(&format!("{REQUIRED}REPLICATIONS = ( REPLICATION_NAME_PREFIX = \"A;B\" ( SYS.T1 ) )"));
    assert_eq!(
        prefix.unwrap_err(),
        format!("aku.conf:4:44: REPLICATION_NAME_PREFIX = A;B is not a plain identifier: it contains ';'; {tail}")
    );
    assert_eq!(
        err("AKU_SYS_USER = \"SYS USER\""),
        format!("aku.conf:4:16: AKU_SYS_USER = \"SYS USER\" is not a plain identifier: it contains a space; {tail}")
    );
    assert_eq!(
        err("AKU_DATABASE = 1db"),
        format!("aku.conf:4:16: AKU_DATABASE = 1db is not a plain identifier: it starts with '1'; {tail}")
    );
}

#[test]
fn sts_and_svc_names_must_be_dns_labels() {
    let msg = parse(&format!("AKU_STS_NAME = Altibase_STS\nAKU_SVC_NAME = v\nAKU_SYS_PASSWORD = p\n{GROUP}")).unwrap_err();
    assert_eq!(
        msg,
        "aku.conf:1:16: AKU_STS_NAME = Altibase_STS is not a valid DNS label: use letters, digits and '-', \
         starting and ending with a letter or digit (RFC 1123), because pods and hosts are named after it"
    );
}

#[test]
fn the_password_never_appears_in_debug_output_or_errors() {
    let c = parse(&format!("{NO_PASSWORD}AKU_SYS_PASSWORD = \"s3cr3t;}}=\"\n{GROUP}")).unwrap();
    assert!(!format!("{c:?}").contains("s3cr3t"));
    let raw = super::super::parser::parse(&format!("{NO_PASSWORD}AKU_SYS_PASSWORD = s3cr3t\n")).unwrap();
    assert!(!format!("{raw:?}").contains("s3cr3t"));
    if let PasswordSource::Property(secret) = &c.password {
        assert_eq!(secret.expose(), "s3cr3t;}=");
    }
}
