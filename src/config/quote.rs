//! How names, values and tokens are quoted in messages: cut after a fixed number
//! of characters (a token may be megabytes long) and with invisible characters
//! escaped, so that a reader sees exactly what the file holds.

/// How a configuration value (or name) is quoted in messages: bare when it has
/// no whitespace, invisible character or `"`, otherwise in double quotes with
/// `"`, `\\` and invisible characters escaped (`\u{feff}`); cut after 64 characters.
pub(crate) fn show(value: &str) -> String {
    const MAX: usize = 64;
    let cut: String = value.chars().take(MAX).collect();
    let ellipsis = if cut.len() < value.len() { "…" } else { "" };
    if !value.is_empty() && !value.chars().any(|c| c.is_whitespace() || is_invisible(c) || c == '"') {
        return format!("{cut}{ellipsis}");
    }
    let mut quoted = String::from("\"");
    for c in cut.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if is_invisible(c) => quoted.extend(c.escape_default()),
            c => quoted.push(c),
        }
    }
    format!("{quoted}{ellipsis}\"")
}

/// At most `max` characters of `text` (then `…`), invisible characters escaped
/// (`\u{200b}`), without quotes: how a token is named after "found".
pub(crate) fn visible(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref().take(max) {
        if is_invisible(c) { out.extend(c.escape_default()) } else { out.push(c) }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Characters a reader cannot see or tell apart from a space: controls,
/// whitespace other than the space, and the Unicode format characters (byte-order
/// mark, zero-width and direction marks, soft hyphen).
pub(crate) fn is_invisible(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}' | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}' | '\u{ffa0}' | '\u{fff0}'..='\u{fffb}' | '\u{e0000}'..='\u{e0fff}')
}
