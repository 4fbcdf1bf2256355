//! One rule per kind of value: whole numbers in a range, 0/1 flags, DNS labels,
//! plain SQL identifiers and byte limits. Each takes a [`RawValue`] and returns
//! the typed value or the error that names the property, the value and the
//! position. These functions never see a password. A TOML boolean is a 0/1
//! flag and nothing else: every other rule refuses it.

use super::error::{ConfigError, Location};
use super::quote::show;
use super::raw::RawValue;

fn bad(value: &RawValue, name: &str, problem: &'static str, allowed: String) -> ConfigError {
    ConfigError::BadValue { at: Location::new(value.span), name: name.to_owned(), value: show(&value.text), problem, allowed }
}

/// A whole number `min..=max`. Digits only (an optional `-` is read so that
/// `-1` is reported as out of range rather than as not a number).
pub(crate) fn number<T>(value: &RawValue, name: &str, min: T, max: T) -> Result<T, ConfigError>
where
    T: Copy + Into<u64> + TryFrom<u64> + std::fmt::Display,
{
    let allowed = || format!("{min}..{max}");
    not_boolean(value, name, &allowed())?;
    let (negative, digits) = match value.text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.text.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(value, name, "is not a whole number", allowed()));
    }
    let parsed = digits.bytes().try_fold(0u64, |n, b| n.checked_mul(10)?.checked_add(u64::from(b - b'0')));
    match parsed {
        Some(n) if !negative && n >= min.into() && n <= max.into() => {
            T::try_from(n).map_err(|_| bad(value, name, "is out of range", allowed()))
        }
        _ => Err(bad(value, name, "is out of range", allowed())),
    }
}

/// A 0/1 switch.
pub(crate) fn flag(value: &RawValue, name: &str) -> Result<bool, ConfigError> {
    match value.text.as_str() {
        "0" => Ok(false),
        "1" => Ok(true),
        "false" if value.boolean => Ok(false),
        "true" if value.boolean => Ok(true),
        _ => {
            let problem = if number(value, name, 0u32, u32::MAX).is_ok() { "is out of range" } else { "is not 0 or 1" };
            Err(bad(value, name, problem, "0 or 1".to_owned()))
        }
    }
}

/// One of `choices`, ignoring ASCII case.
pub(crate) fn choice<'c>(value: &RawValue, name: &str, choices: &[&'c str]) -> Result<&'c str, ConfigError> {
    not_boolean(value, name, &choices.join(" or "))?;
    choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case(&value.text))
        .copied()
        .ok_or_else(|| bad(value, name, "is not one of the choices", choices.join(" or ")))
}

/// Any non-empty text (driver names, file paths).
pub(crate) fn non_empty(value: &RawValue, name: &str, allowed: &str) -> Result<String, ConfigError> {
    not_boolean(value, name, allowed)?;
    if value.text.is_empty() { Err(bad(value, name, "is empty", allowed.to_owned())) } else { Ok(value.text.clone()) }
}

/// Refuses a TOML boolean (`allowed` says what the property takes instead).
pub(crate) fn not_boolean(value: &RawValue, name: &str, allowed: &str) -> Result<(), ConfigError> {
    if value.boolean { Err(bad(value, name, "is a boolean (booleans are for the 0/1 flags only)", allowed.to_owned())) } else { Ok(()) }
}

/// Names a value in a message; built only when there is an error.
pub(crate) type What<'w> = &'w dyn Fn() -> String;

/// At most `max` bytes; `what` names the value in the message, `why` explains a derived limit.
pub(crate) fn byte_limit(value: &RawValue, what: What<'_>, max: usize, why: &'static str) -> Result<(), ConfigError> {
    if value.text.len() > max {
        return Err(ConfigError::TooLong { at: Location::new(value.span), what: what(), len: value.text.len(), max, why });
    }
    Ok(())
}

/// A lowercase RFC 1123 DNS label of at most 63 bytes: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
/// Kubernetes names the pods `<sts>-<i>` and their hosts `<sts>-<i>.<svc>`.
pub(crate) fn dns_label(value: &RawValue, name: &'static str) -> Result<String, ConfigError> {
    not_boolean(value, name, "a DNS label, as a string")?;
    byte_limit(value, &|| format!("{name} = {}", show(&value.text)), 63, "")?;
    let text = value.text.as_str();
    // DNS names are case-insensitive (RFC 4343); the manual's examples use `AKUHOST`.
    let inner_ok = text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !inner_ok || text.starts_with('-') || text.ends_with('-') {
        return Err(ConfigError::NotDnsLabel { at: Location::new(value.span), name, value: show(text) });
    }
    Ok(text.to_owned())
}

/// A plain identifier `[A-Za-z_][A-Za-z0-9_$]*` of at most `max` bytes. Such a
/// name means the same thing quoted or not, and cannot end a statement, open a
/// string or a comment, or reach another schema.
pub(crate) fn identifier(value: &RawValue, what: What<'_>, max: usize, why: &'static str) -> Result<String, ConfigError> {
    byte_limit(value, what, max, why)?;
    let text = value.text.as_str();
    let problem = match text.chars().next() {
        _ if value.boolean => Some("it is a TOML boolean".to_owned()),
        None => Some("it is empty".to_owned()),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => Some(format!("it starts with {}", describe(c))),
        Some(_) => {
            text.chars().find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')).map(|c| format!("it contains {}", describe(c)))
        }
    };
    match problem {
        Some(problem) => Err(ConfigError::NotIdentifier { at: Location::new(value.span), what: what(), problem }),
        None => Ok(text.to_owned()),
    }
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '\t' => "a tab".to_owned(),
        c if c.is_whitespace() || c.is_control() => format!("U+{:04X}", u32::from(c)),
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Span;

    fn v(text: &str) -> RawValue {
        RawValue { text: text.to_owned(), span: Span::new(3, 20), quoted: false, boolean: false }
    }

    #[test]
    fn numbers_in_range_wrong_type_and_overflow() {
        assert_eq!(number(&v("6"), "AKU_SERVER_COUNT", 1u8, 6).unwrap(), 6);
        assert_eq!(
            number(&v("9"), "AKU_SERVER_COUNT", 1u8, 6).unwrap_err().to_string(),
            "aku.conf:3:20: AKU_SERVER_COUNT = 9 is out of range; allowed: 1..6"
        );
        assert_eq!(
            number(&v("four"), "AKU_SERVER_COUNT", 1u8, 6).unwrap_err().to_string(),
            "aku.conf:3:20: AKU_SERVER_COUNT = four is not a whole number; allowed: 1..6"
        );
        assert_eq!(
            number(&v("-1"), "AKU_QUERY_RETRY_COUNT", 0u32, u32::MAX).unwrap_err().to_string(),
            "aku.conf:3:20: AKU_QUERY_RETRY_COUNT = -1 is out of range; allowed: 0..4294967295"
        );
        let huge = "9".repeat(40);
        assert!(number(&v(&huge), "X", 0u32, u32::MAX).unwrap_err().to_string().contains("is out of range"));
        assert_eq!(number(&v("4294967295"), "X", 0u32, u32::MAX).unwrap(), u32::MAX);
        assert!(number(&v("4294967296"), "X", 0u32, u32::MAX).is_err());
        assert!(number(&v(""), "X", 0u32, 5).unwrap_err().to_string().contains("X = \"\" is not a whole number"));
    }

    #[test]
    fn flags_accept_only_0_and_1() {
        assert!(!flag(&v("0"), "AKU_FLUSH_AT_END").unwrap());
        assert!(flag(&v("1"), "AKU_FLUSH_AT_END").unwrap());
        assert_eq!(
            flag(&v("2"), "AKU_FLUSH_AT_END").unwrap_err().to_string(),
            "aku.conf:3:20: AKU_FLUSH_AT_END = 2 is out of range; allowed: 0 or 1"
        );
        assert_eq!(
            flag(&v("yes"), "AKU_FLUSH_AT_END").unwrap_err().to_string(),
            "aku.conf:3:20: AKU_FLUSH_AT_END = yes is not 0 or 1; allowed: 0 or 1"
        );
    }

    #[test]
    fn toml_booleans_are_accepted_for_the_0_1_flags_only() {
        let boolean = |text: &str| RawValue { boolean: true, ..v(text) };
        assert!(flag(&boolean("true"), "AKU_FLUSH_AT_END").unwrap());
        assert!(!flag(&boolean("false"), "AKU_FLUSH_AT_END").unwrap());
        assert_eq!(
            flag(&v("true"), "AKU_FLUSH_AT_END").unwrap_err().to_string(),
            "aku.conf:3:20: AKU_FLUSH_AT_END = true is not 0 or 1; allowed: 0 or 1"
        );
        assert_eq!(
            number(&boolean("true"), "AKU_SERVER_COUNT", 1u8, 6).unwrap_err().to_string(),
            "aku.conf:3:20: AKU_SERVER_COUNT = true is a boolean (booleans are for the 0/1 flags only); allowed: 1..6"
        );
        assert!(dns_label(&boolean("true"), "AKU_STS_NAME").is_err());
        assert!(choice(&boolean("false"), "AKU_BACKEND", &["altibase", "false"]).is_err());
        assert!(non_empty(&boolean("true"), "AKU_ODBC_DRIVER", "a driver").is_err());
        assert!(identifier(&boolean("true"), &|| "table name".into(), 128, "").unwrap_err().to_string().contains("it is a TOML boolean"));
    }

    #[test]
    fn dns_labels() {
        assert_eq!(dns_label(&v("altibase-sts"), "AKU_STS_NAME").unwrap(), "altibase-sts");
        assert_eq!(dns_label(&v("AKUHOST"), "AKU_STS_NAME").unwrap(), "AKUHOST");
        for bad in ["-a", "a-", "a_b", "a.b", "a b"] {
            assert!(dns_label(&v(bad), "AKU_STS_NAME").is_err(), "{bad}");
        }
        assert_eq!(
            dns_label(&v("a_b"), "AKU_STS_NAME").unwrap_err().to_string(),
            "aku.conf:3:20: AKU_STS_NAME = a_b is not a valid DNS label: use letters, digits and '-', \
             starting and ending with a letter or digit (RFC 1123), because pods and hosts are named after it"
        );
        assert_eq!(
            dns_label(&v(&"a".repeat(64)), "AKU_SVC_NAME").unwrap_err().to_string(),
            format!("aku.conf:3:20: AKU_SVC_NAME = {} is 64 bytes long; allowed: 1..63 bytes", "a".repeat(64))
        );
    }

    #[test]
    fn identifiers_refuse_what_would_be_unsafe_in_sql() {
        assert_eq!(identifier(&v("T$1_x"), &|| "t".into(), 128, "").unwrap(), "T$1_x");
        let cases = [
            ("T1;DROP", "it contains ';'"),
            ("T 1", "it contains a space"),
            ("T\"1", "it contains '\"'"),
            ("T'1", "it contains '''"),
            ("T--1", "it contains '-'"),
            ("1T", "it starts with '1'"),
            ("T.X", "it contains '.'"),
            ("", "it is empty"),
            ("Té", "it contains 'é'"),
        ];
        for (text, problem) in cases {
            let msg = identifier(&v(text), &|| "table name".into(), 128, "").unwrap_err().to_string();
            assert_eq!(
                msg,
                format!(
                    "aku.conf:3:20: table name is not a plain identifier: {problem}; names must match \
                     [A-Za-z_][A-Za-z0-9_$]* because anything else would be unsafe or ambiguous in SQL"
                )
            );
        }
    }

    #[test]
    fn byte_limits_count_bytes_not_characters() {
        let ok = "é".repeat(64);
        assert!(byte_limit(&v(&ok), &|| "x".into(), 128, "").is_ok());
        assert_eq!(
            byte_limit(&v(&format!("{ok}a")), &|| "user name".into(), 128, "").unwrap_err().to_string(),
            "aku.conf:3:20: user name is 129 bytes long; allowed: 1..128 bytes"
        );
    }
}
