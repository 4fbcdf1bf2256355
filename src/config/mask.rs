//! Which source lines an error must not show because they may hold the SYS
//! password, and how such a line is shown instead. Used by the snippet under a
//! syntax error; nothing else in a message quotes a source line.
//!
//! A line may hold the password when
//! - it has a word that may name the password property, however spelt
//!   ([`schema::may_name_password`]: `AKU_SYS_PASSWORD`, `AKU_SYS_PASSWROD`,
//!   `aku_sys_password`, ...);
//! - it continues such a property whose value did not start on its line: the
//!   last line before it with content (blank and comment lines skipped, array
//!   elements ending in `,` walked over) names the property and ends with `=`,
//!   `[` or `{` — `AKU_SYS_PASSWORD =` with the password on the next line;
//! - it lies inside a TOML multi-line string (`"""` or `'''`) opened on such a line.
//!
//! Masking more than needed only makes a message less helpful; masking less
//! would print the password, so every rule errs on the side of masking.

use super::schema;

/// What is shown of a line that may hold the password: `********` after the
/// line's `=` when the property name comes before it, or the whole line masked.
/// `Some((shown, value_at))`, `value_at` being the character index of the mask
/// (the caret goes no further right).
pub(crate) fn masked(text: &str, line_start: usize, line: &str) -> Option<(String, usize)> {
    if let Some(shown) = masked_by_name(line) {
        return Some(shown);
    }
    (continues_password(text, line_start) || inside_password_string(text, line_start)).then(|| ("********".to_owned(), 0))
}

/// The words of a line: what lies between spaces, `=`, brackets, quotes, `,` and `#`.
fn words(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let separator = |c: char| c.is_whitespace() || matches!(c, '=' | '(' | ')' | '[' | ']' | '{' | '}' | ',' | '#' | '"' | '\'');
    let mut rest = line;
    let mut offset = 0;
    std::iter::from_fn(move || {
        let skip = rest.find(|c: char| !separator(c))?;
        let word_len = rest[skip..].find(separator).unwrap_or(rest.len() - skip);
        let start = offset + skip;
        let word = &rest[skip..skip + word_len];
        offset = start + word_len;
        rest = &rest[skip + word_len..];
        Some((start, word))
    })
}

fn names_password(line: &str) -> Option<(usize, &str)> {
    words(line).find(|(_, w)| schema::may_name_password(w))
}

fn masked_by_name(line: &str) -> Option<(String, usize)> {
    let (at, name) = names_password(line)?;
    let name_end = at + name.len();
    let keep = match line.find('=') {
        Some(eq) if eq >= name_end => eq + 1,
        // `AKU_SYS_PASSWORD secret`: the known name is no secret.
        None if schema::is_secret(name) => name_end,
        // The word may be the password itself: nothing of the line is shown.
        _ => return Some(("********".to_owned(), 0)),
    };
    let head: String = line[..keep].chars().map(|c| if c.is_control() && c != '\t' { '?' } else { c }).collect();
    let value_at = head.chars().count() + 1;
    Some((format!("{head} ********"), value_at))
}

/// The line before the one starting at `start` (without its line end), and where it starts.
fn previous_line(text: &str, start: usize) -> Option<(usize, &str)> {
    let end = start.checked_sub(1)?;
    let from = text[..end].rfind('\n').map_or(0, |i| i + 1);
    Some((from, text[from..end].trim_end_matches('\r')))
}

/// The line without its comment and trailing blanks (a `#` inside quotes cuts too: more masking, never less).
fn content(line: &str) -> &str {
    line.split('#').next().unwrap_or_default().trim_end()
}

fn continues_password(text: &str, start: usize) -> bool {
    let mut at = start;
    while let Some((from, line)) = previous_line(text, at) {
        at = from;
        let content = content(line);
        if content.trim_start().is_empty() {
            continue;
        }
        if content.ends_with(['=', '[', '{']) {
            return names_password(content).is_some();
        }
        if !content.ends_with(',') {
            return false;
        }
    }
    false
}

/// Whether `start` lies inside a TOML multi-line string opened on a line that
/// names the password. Delimiters are counted from the start of the text.
fn inside_password_string(text: &str, start: usize) -> bool {
    let head = &text[..start];
    if !head.contains("\"\"\"") && !head.contains("'''") {
        return false;
    }
    let bytes = head.as_bytes();
    let mut open: Option<(u8, usize)> = None;
    let mut i = 0;
    while i + 3 <= bytes.len() {
        let b = bytes[i];
        let triple = (b == b'"' || b == b'\'') && bytes[i + 1] == b && bytes[i + 2] == b;
        match open {
            None if triple => {
                open = Some((b, i));
                i += 3;
            }
            Some((quote, _)) if triple && quote == b => {
                open = None;
                i += 3;
            }
            _ => i += 1,
        }
    }
    let Some((_, opened_at)) = open else {
        return false;
    };
    let line_start = text[..opened_at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[opened_at..].find('\n').map_or(text.len(), |i| opened_at + i);
    names_password(&text[line_start..line_end]).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str, line: usize) -> Option<String> {
        let start = text.split_inclusive('\n').take(line - 1).map(str::len).sum::<usize>();
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        masked(text, start, &text[start..end]).map(|(s, _)| s)
    }

    #[test]
    fn a_line_naming_the_password_in_any_spelling_shows_its_name_only() {
        assert_eq!(shown("AKU_SYS_PASSWORD = s3cr3t x", 1).as_deref(), Some("AKU_SYS_PASSWORD = ********"));
        assert_eq!(shown("aku_sys_password = s3 cr3t", 1).as_deref(), Some("aku_sys_password = ********"));
        assert_eq!(shown("  AKU_SYS_PASSWROD=s3cr3t", 1).as_deref(), Some("  AKU_SYS_PASSWROD= ********"));
        assert_eq!(shown("AKU_SYS_PASSWORD s3cr3t", 1).as_deref(), Some("AKU_SYS_PASSWORD ********"));
        assert_eq!(shown("\"AKU_SYS_PASSWORD\" = 's3cr3t", 1).as_deref(), Some("\"AKU_SYS_PASSWORD\" = ********"));
    }

    #[test]
    fn a_password_like_word_after_the_equals_masks_the_whole_line() {
        assert_eq!(shown("AKU_STS_NAME = myPassword x", 1).as_deref(), Some("********"));
        assert_eq!(shown("myPassw0rd", 1).as_deref(), Some("********"));
    }

    #[test]
    fn the_line_after_an_empty_password_value_is_masked() {
        let text = "AKU_SYS_PASSWORD =   # on the next line\n\ns3cr3t\nAKU_PORT_NO = x y\n";
        assert_eq!(shown(text, 3).as_deref(), Some("********"));
        assert_eq!(shown(text, 4), None);
        assert_eq!(shown("AKU_SYS_PASSWORD = [\n\"a\",\n\"s3cr3t\" x]", 3).as_deref(), Some("********"));
        assert_eq!(shown("AKU_STS_NAME =\ns3cr3t", 2), None);
    }

    #[test]
    fn lines_inside_a_multi_line_password_string_are_masked() {
        let text = "A = \"\"\"\nx\n\"\"\"\nAKU_SYS_PASSWORD = '''\ns3cr3t\nmore'''\nB = 1 2\n";
        assert_eq!(shown(text, 2), None);
        assert_eq!(shown(text, 5).as_deref(), Some("********"));
        assert_eq!(shown(text, 6).as_deref(), Some("********"));
        assert_eq!(shown(text, 7), None);
        assert_eq!(shown("AKU_SYS_PASSWORD = \"\"\"s3cr3t\nabc\\qdef\"\"\"", 2).as_deref(), Some("********"));
    }

    #[test]
    fn the_password_file_path_is_no_secret() {
        assert_eq!(shown("AKU_SYS_PASSWORD_FILE = /etc/aku/credentials x", 1), None);
    }
}
