//! The names aku.conf knows and where each may appear — one list shared by both
//! syntaxes. Owns the unknown-name and misplaced-name errors and the
//! "did you mean" suggestion; it does not look at values.
//!
//! Names are case-sensitive and upper-case, as in every Altibase sample: a
//! lower-case `aku_sts_name` is refused as unknown, with the upper-case name
//! suggested, rather than silently accepted.

use super::error::{ConfigError, Location};
use super::raw::Span;

/// Top-level properties of spec table 3.2 and the extensions, in table order.
pub(crate) const TOP_LEVEL: &[&str] = &[
    "AKU_STS_NAME",
    "AKU_SVC_NAME",
    "AKU_SERVER_COUNT",
    "AKU_SYS_PASSWORD",
    "AKU_SYS_PASWWORD",
    "AKU_PORT_NO",
    "AKU_REPLICATION_PORT_NO",
    "AKU_QUERY_TIMEOUT",
    "AKU_QUERY_RETRY_COUNT",
    "AKU_QUERY_RETRY_DELAY_MSEC",
    "AKU_ADDRESS_CHECK_COUNT",
    "AKU_FLUSH_AT_START",
    "AKU_FLUSH_TIMEOUT_AT_START",
    "AKU_DELAY_START_COMPLETE_TIME",
    "AKU_FLUSH_AT_END",
    "AKU_REPLICATION_RESET_AT_END",
    "AKU_BACKEND",
    "AKU_SYS_USER",
    "AKU_SYS_PASSWORD_FILE",
    "AKU_DATABASE",
    "AKU_ODBC_DRIVER",
    "REPLICATIONS",
];

/// Properties of one REPLICATIONS group.
pub(crate) const GROUP: &[&str] = &["REPLICATION_NAME_PREFIX", "SYNC_PARALLEL_COUNT"];

/// Fields of a 7.1-style item (and of a TOML inline-table item).
pub(crate) const ITEM: &[&str] = &["USER_NAME", "TABLE_NAME", "PARTITION_NAME"];

/// Where a name is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    TopLevel,
    Group,
    Item,
}

impl Place {
    fn names(self) -> &'static [&'static str] {
        match self {
            Place::TopLevel => TOP_LEVEL,
            Place::Group => GROUP,
            Place::Item => ITEM,
        }
    }

    /// Completes "property X belongs …".
    fn description(self) -> &'static str {
        match self {
            Place::TopLevel => "at the top level, not inside a REPLICATIONS group",
            Place::Group => "inside a REPLICATIONS group, before its item list",
            Place::Item => "inside an item: ( USER_NAME = .. TABLE_NAME = .. PARTITION_NAME = .. )",
        }
    }
}

/// The name every spelling of a property is checked under: the 7.1 typo
/// `AKU_SYS_PASWWORD` is the same property as `AKU_SYS_PASSWORD`.
pub(crate) fn canonical(name: &str) -> &str {
    if name == "AKU_SYS_PASWWORD" { "AKU_SYS_PASSWORD" } else { name }
}

/// Whether the property holds the SYS password (never shown in messages or Debug).
pub(crate) fn is_secret(name: &str) -> bool {
    canonical(name) == "AKU_SYS_PASSWORD"
}

/// Whether `name` is a property or field name aku knows anywhere.
pub(crate) fn is_known(name: &str) -> bool {
    [TOP_LEVEL, GROUP, ITEM].iter().any(|names| names.contains(&name))
}

/// Whether `word` may name the SYS password property, however it is spelt:
/// any case, misspelt (`AKU_SYS_PASSWROD`), abbreviated (`PWD`). Errs on the
/// side of yes: it only decides what a message must not show.
/// `AKU_SYS_PASSWORD_FILE` (a path, not a secret) is not one.
pub(crate) fn may_name_password(word: &str) -> bool {
    const HINTS: &[&str] = &["PASS", "PASW", "PSW", "PWD"];
    if word == "AKU_SYS_PASSWORD_FILE" || word.is_empty() {
        return false;
    }
    let upper = word.to_ascii_uppercase();
    HINTS.iter().any(|h| upper.contains(h)) || (upper.len() <= 32 && strsim::damerau_levenshtein(&upper, "AKU_SYS_PASSWORD") <= 4)
}

/// Accepts a name known at `place`; refuses one known elsewhere (misplaced)
/// or unknown (with the closest known name of `place`, if one is close).
pub(crate) fn check_name(name: &str, span: Span, place: Place) -> Result<(), ConfigError> {
    if place.names().contains(&name) {
        return Ok(());
    }
    let at = Location::new(span);
    for other in [Place::TopLevel, Place::Group, Place::Item] {
        if other != place && other.names().contains(&name) {
            return Err(ConfigError::Misplaced { at, name: name.to_owned(), place: other.description() });
        }
    }
    Err(ConfigError::Unknown { at, name: name.to_owned(), suggestion: suggest(name, place.names()) })
}

/// The known name closest to `name` (ignoring case), if at most a third of its
/// characters would have to change or `name` is the start of it (`TABLE` →
/// `TABLE_NAME`).
fn suggest(name: &str, candidates: &[&'static str]) -> Option<&'static str> {
    // A name more than a third longer than a candidate is more than a third away
    // from it: past twice the longest, no search (it would be quadratic in the name).
    let longest = candidates.iter().map(|c| c.len()).max().unwrap_or(0);
    if name.chars().nth(2 * longest).is_some() {
        return None;
    }
    let upper = name.to_ascii_uppercase();
    let close = |distance: usize, c: &str| distance * 3 <= c.len() || (upper.len() >= 4 && c.starts_with(&upper));
    candidates
        .iter()
        .map(|&c| (strsim::damerau_levenshtein(&upper, c), c))
        .min_by_key(|&(distance, _)| distance)
        .filter(|&(distance, c)| close(distance, c))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(name: &str, place: Place) -> String {
        check_name(name, Span::new(2, 1), place).unwrap_err().to_string()
    }

    #[test]
    fn unknown_property_names_the_closest_known_name() {
        assert_eq!(
            message("AKU_SERVER_CONT", Place::TopLevel),
            "aku.conf:2:1: unknown property AKU_SERVER_CONT (did you mean AKU_SERVER_COUNT?)"
        );
    }

    #[test]
    fn lower_case_names_are_refused_with_the_upper_case_name_suggested() {
        assert_eq!(message("aku_sts_name", Place::TopLevel), "aku.conf:2:1: unknown property aku_sts_name (did you mean AKU_STS_NAME?)");
    }

    #[test]
    fn a_name_far_from_every_known_name_gets_no_suggestion() {
        assert_eq!(message("FOO", Place::TopLevel), "aku.conf:2:1: unknown property FOO");
    }

    #[test]
    fn group_and_item_names_have_their_own_suggestions() {
        assert_eq!(
            message("SYNC_PARALEL_COUNT", Place::Group),
            "aku.conf:2:1: unknown property SYNC_PARALEL_COUNT (did you mean SYNC_PARALLEL_COUNT?)"
        );
        assert_eq!(message("TABLE", Place::Item), "aku.conf:2:1: unknown property TABLE (did you mean TABLE_NAME?)");
    }

    #[test]
    fn misplaced_names_say_where_they_belong() {
        assert_eq!(
            message("REPLICATION_NAME_PREFIX", Place::TopLevel),
            "aku.conf:2:1: property REPLICATION_NAME_PREFIX belongs inside a REPLICATIONS group, before its item list"
        );
        assert_eq!(
            message("AKU_PORT_NO", Place::Group),
            "aku.conf:2:1: property AKU_PORT_NO belongs at the top level, not inside a REPLICATIONS group"
        );
    }

    #[test]
    fn a_name_far_longer_than_any_property_gets_no_suggestion_and_no_search() {
        let long = format!("AKU_STS_NAME{}", "X".repeat(10 << 20));
        let start = std::time::Instant::now();
        assert_eq!(suggest(&long, TOP_LEVEL), None);
        assert!(start.elapsed() < std::time::Duration::from_secs(1), "{:?}", start.elapsed());
        // At twice the longest name, still searched (and still too far).
        assert_eq!(suggest(&format!("AKU_STS_NAME{}", "X".repeat(46)), TOP_LEVEL), None);
        assert_eq!(suggest("AKU_DELAY_START_COMPLETE_TIMEX", TOP_LEVEL), Some("AKU_DELAY_START_COMPLETE_TIME"));
    }

    #[test]
    fn password_like_names_in_any_spelling() {
        for name in [
            "AKU_SYS_PASSWORD",
            "AKU_SYS_PASWWORD",
            "AKU_SYS_PASSWROD",
            "aku_sys_password",
            "AKU_SYS_PSWD",
            "AKU_SYS_PWD",
            "AKU_SYS_PASSOWRD",
            "AKU_SYS_PASWORD",
            "AKU_SYS_PASSWRD",
            "Password",
        ] {
            assert!(may_name_password(name), "{name}");
        }
        for name in ["AKU_SYS_PASSWORD_FILE", "AKU_SYS_USER", "AKU_STS_NAME", "REPLICATION_NAME_PREFIX", ""] {
            assert!(!may_name_password(name), "{name}");
        }
    }

    #[test]
    fn the_7_1_password_typo_is_the_same_property() {
        assert_eq!(canonical("AKU_SYS_PASWWORD"), "AKU_SYS_PASSWORD");
        assert!(is_secret("AKU_SYS_PASWWORD") && is_secret("AKU_SYS_PASSWORD"));
        assert!(!is_secret("AKU_SYS_PASSWORD_FILE"));
        assert!(check_name("AKU_SYS_PASWWORD", Span::new(1, 1), Place::TopLevel).is_ok());
    }
}
