//! Recursive-descent parser for aku.conf, both generations (spec 3.1), into a
//! [`RawConfig`]. Owns the grammar; it checks names only where the grammar
//! depends on them (`REPLICATIONS` opens a block) and leaves every value to
//! `validate`.
//!
//! ```text
//! file      = { line-end | property line-end }
//! property  = NAME "=" ( value | <nothing> )          value on the same line
//!           | "REPLICATIONS" "=" block
//! block     = "(" ")" | "(" group ")" { "," "(" group ")" }
//! group     = { NAME "=" value } [ "(" [ item { "," item } [ "," ] ] ")" ]
//! item      = WORD                       USER.TABLE (7.3)
//!           | WORD "PARTITION" value     USER.TABLE PARTITION P (7.3)
//!           | "(" field { [","] field } [","] ")"   ( USER_NAME = .. TABLE_NAME = .. ) (7.1)
//! ```
//! At the top level one property is one line. Inside the block line ends do
//! not matter, except that a value must start on the line of its `=`.
//! `PARTITION` is a keyword and, like SQL, matched ignoring case. The nesting
//! depth is fixed by the grammar, so no input can make the parser recurse
//! deeply, and every step consumes a token, so it always ends.

use super::error::ConfigError;
use super::lexer::{Lexer, Tok, Token};
use super::raw::{RawConfig, RawGroup, RawItem, RawProperty, RawReplications, RawValue, Span, split_user_table};
use super::schema::{self, Place};

/// Parses aku.conf text (either generation).
pub(crate) fn parse(text: &str) -> Result<RawConfig, ConfigError> {
    let mut lexer = Lexer::new(text);
    let tok = lexer.next_token()?;
    Parser { lexer, tok }.file()
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The current (not yet consumed) token.
    tok: Token<'a>,
}

impl<'a> Parser<'a> {
    fn advance(&mut self) -> Result<Token<'a>, ConfigError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn error(&self, expected: &str) -> ConfigError {
        self.error_about(expected, "")
    }

    /// An error whose `expected` names a token (its `{}`); see [`ConfigError::syntax_about`].
    fn error_about(&self, expected: &str, name: &str) -> ConfigError {
        let t = &self.tok;
        ConfigError::syntax_about(self.lexer.text(), t.offset, t.span, expected, name, &t.tok.describe())
    }

    fn expect_equals(&mut self, expected: &str, name: &str) -> Result<(), ConfigError> {
        if self.tok.tok != Tok::Equals {
            return Err(self.error_about(expected, name));
        }
        self.advance()?;
        Ok(())
    }

    /// After `NAME =` left empty on its line, where NAME may be the password: a
    /// next line that starts with anything but a known name is refused, as it
    /// may be the password written on the line after its `=` (a word there would
    /// otherwise be read, and quoted, as an unknown property name).
    fn refuse_password_on_next_line(&self, name: &str, value: &RawValue) -> Result<(), ConfigError> {
        if !value.text.is_empty() || value.quoted || !schema::may_name_password(name) {
            return Ok(());
        }
        let mut lexer = self.lexer.clone();
        let mut next = self.tok.clone();
        while next.tok == Tok::Newline {
            next = lexer.next_token()?;
        }
        match next.tok {
            Tok::Word(w) if schema::is_known(w) => Ok(()),
            Tok::Eof | Tok::Close | Tok::Open => Ok(()),
            _ => Err(ConfigError::syntax_about(
                self.lexer.text(),
                next.offset,
                next.span,
                "the value of {} on the line of its '='",
                name,
                &next.tok.describe(),
            )),
        }
    }

    fn skip_newlines(&mut self) -> Result<(), ConfigError> {
        while self.tok.tok == Tok::Newline {
            self.advance()?;
        }
        Ok(())
    }

    /// The first token after any line ends, without consuming anything.
    fn peek_past_newlines(&self) -> Result<Tok<'a>, ConfigError> {
        let mut tok = self.tok.tok.clone();
        let mut lexer = self.lexer.clone();
        while tok == Tok::Newline {
            tok = lexer.next_token()?.tok;
        }
        Ok(tok)
    }

    fn expect(&mut self, want: &Tok<'_>, expected: &str) -> Result<Token<'a>, ConfigError> {
        if self.tok.tok == *want { self.advance() } else { Err(self.error(expected)) }
    }

    fn file(mut self) -> Result<RawConfig, ConfigError> {
        let mut raw = RawConfig::default();
        loop {
            match self.tok.tok {
                Tok::Newline => {
                    self.advance()?;
                }
                Tok::Eof => return Ok(raw),
                Tok::Word(name) => {
                    let span = self.advance()?.span;
                    self.expect_equals("'=' after the property name {}", name)?;
                    if name == "REPLICATIONS" {
                        let groups = self.block()?;
                        raw.replications.push(RawReplications { span, groups });
                    } else {
                        let value = self.value(name, Place::TopLevel, span)?;
                        self.refuse_password_on_next_line(name, &value)?;
                        raw.properties.push(RawProperty { name: name.to_owned(), span, value });
                    }
                    if !matches!(self.tok.tok, Tok::Newline | Tok::Eof) {
                        const EXPECTED: &str = "end of line after {} (quote values that contain spaces)";
                        if name == "REPLICATIONS" {
                            return Err(self.error(&EXPECTED.replacen("{}", "the REPLICATIONS block", 1)));
                        }
                        return Err(self.error_about(EXPECTED, name));
                    }
                }
                Tok::Close => return Err(self.error("a property name (this ')' closes nothing)")),
                _ => return Err(self.error("a property name")),
            }
        }
    }

    /// Whether the current word reads as a property name: `=` (or the end of
    /// the line, for a missing `=`) follows it. Otherwise it is an item or garbage.
    fn name_follows(&self) -> bool {
        let next = self.lexer.clone().next_token().map(|t| t.tok);
        matches!(next, Ok(Tok::Equals | Tok::Newline | Tok::Eof))
    }

    /// The value after `NAME =`: a word, a quoted string, or nothing when the
    /// line ends there. A parenthesised block is refused (unknown names first).
    fn value(&mut self, name: &str, place: Place, name_span: Span) -> Result<RawValue, ConfigError> {
        let Token { tok, span, .. } = self.tok.clone();
        let (text, quoted) = match tok {
            Tok::Word(w) => (w.to_owned(), false),
            Tok::Quoted(q) => (q.into_owned(), true),
            Tok::Newline | Tok::Eof => return Ok(RawValue { text: String::new(), span, quoted: false, boolean: false }),
            Tok::Open if place != Place::Item => {
                schema::check_name(name, name_span, place)?;
                return Err(self.error_about("a value for {}", name));
            }
            _ => return Err(self.error_about("a value for {}", name)),
        };
        self.advance()?;
        Ok(RawValue { text, span, quoted, boolean: false })
    }

    /// After `REPLICATIONS =`: the groups, or none for an empty value or `( )`.
    fn block(&mut self) -> Result<Vec<RawGroup>, ConfigError> {
        if matches!(self.tok.tok, Tok::Newline | Tok::Eof) {
            if self.peek_past_newlines()? != Tok::Open {
                return Ok(Vec::new());
            }
            self.skip_newlines()?;
        }
        let mut open = self.expect(&Tok::Open, "'(' to open the REPLICATIONS block")?.span;
        self.skip_newlines()?;
        if self.tok.tok == Tok::Close {
            self.advance()?;
            return Ok(Vec::new());
        }
        let mut groups = Vec::new();
        loop {
            groups.push(self.group(open)?);
            if self.peek_past_newlines()? != Tok::Comma {
                return Ok(groups);
            }
            self.skip_newlines()?;
            self.advance()?;
            self.skip_newlines()?;
            open = self.expect(&Tok::Open, "'(' to open the next replication group")?.span;
        }
    }

    /// One group; the cursor is after its `(`, and ends after its `)`.
    fn group(&mut self, open: Span) -> Result<RawGroup, ConfigError> {
        let mut group = RawGroup { span: open, properties: Vec::new(), items: Vec::new() };
        let close = format!("')' to close the replication group opened at {open}");
        loop {
            self.skip_newlines()?;
            match self.tok.tok {
                Tok::Word(_) if !self.name_follows() => {
                    return Err(self.error("a property or '(' to open the item list"));
                }
                Tok::Word(name) => {
                    let span = self.advance()?.span;
                    self.expect_equals("'=' after the property name {}", name)?;
                    let value = self.value(name, Place::Group, span)?;
                    self.refuse_password_on_next_line(name, &value)?;
                    group.properties.push(RawProperty { name: name.to_owned(), span, value });
                }
                Tok::Open => {
                    let list = self.advance()?.span;
                    group.items = self.item_list(list)?;
                    self.skip_newlines()?;
                    self.expect(&Tok::Close, &close)?;
                    return Ok(group);
                }
                Tok::Close => {
                    self.advance()?;
                    return Ok(group);
                }
                Tok::Eof => return Err(self.error(&close)),
                _ => return Err(self.error(&format!("a property, the item list or {close}"))),
            }
        }
    }

    /// The items; the cursor is after the list's `(`, and ends after its `)`.
    fn item_list(&mut self, open: Span) -> Result<Vec<RawItem>, ConfigError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.tok.tok == Tok::Close {
                self.advance()?;
                return Ok(items);
            }
            items.push(self.item()?);
            self.skip_newlines()?;
            match self.tok.tok {
                Tok::Comma => {
                    self.advance()?;
                }
                Tok::Close => {
                    self.advance()?;
                    return Ok(items);
                }
                _ => {
                    let expected = format!("',' between items or ')' to close the item list opened at {open}");
                    return Err(self.error(&expected));
                }
            }
        }
    }

    fn item(&mut self) -> Result<RawItem, ConfigError> {
        const EXPECTED: &str = "an item: USER.TABLE, USER.TABLE PARTITION P or ( USER_NAME = .. TABLE_NAME = .. )";
        let Token { tok, span, .. } = self.tok.clone();
        match tok {
            Tok::Open => {
                self.advance()?;
                self.fields_item(span)
            }
            Tok::Word(word) => {
                let Some((user, table)) = split_user_table(word) else {
                    return Err(self.error(EXPECTED));
                };
                self.advance()?;
                let table_column = span.column.saturating_add(u32::try_from(user.chars().count() + 1).unwrap_or(0));
                let mut item = RawItem {
                    span,
                    user: RawValue { text: user.to_owned(), span, quoted: false, boolean: false },
                    table: RawValue { text: table.to_owned(), span: Span::new(span.line, table_column), quoted: false, boolean: false },
                    partition: None,
                };
                self.skip_newlines()?;
                if matches!(self.tok.tok, Tok::Word(k) if k.eq_ignore_ascii_case("PARTITION")) {
                    self.advance()?;
                    self.skip_newlines()?;
                    let Token { tok, span, .. } = self.tok.clone();
                    let (text, quoted) = match tok {
                        Tok::Word(w) => (w.to_owned(), false),
                        Tok::Quoted(q) => (q.into_owned(), true),
                        _ => return Err(self.error("a partition name after PARTITION")),
                    };
                    self.advance()?;
                    item.partition = Some(RawValue { text, span, quoted, boolean: false });
                }
                Ok(item)
            }
            _ => Err(self.error(EXPECTED)),
        }
    }

    /// A 7.1 item; the cursor is after its `(`, and ends after its `)`.
    fn fields_item(&mut self, open: Span) -> Result<RawItem, ConfigError> {
        let expected = format!("a field (USER_NAME, TABLE_NAME, PARTITION_NAME) or ')' to close the item opened at {open}");
        let mut fields = Vec::new();
        loop {
            self.skip_newlines()?;
            match self.tok.tok {
                // A word not followed by '=' is no field name (e.g. a 7.3 item here).
                Tok::Word(_) if !self.name_follows() => return Err(self.error(&expected)),
                Tok::Word(name) => {
                    let span = self.advance()?.span;
                    self.expect_equals("'=' after the field name {}", name)?;
                    let value = self.value(name, Place::Item, span)?;
                    fields.push(RawProperty { name: name.to_owned(), span, value });
                    self.skip_newlines()?;
                    if self.tok.tok == Tok::Comma {
                        self.advance()?;
                    }
                }
                Tok::Close => {
                    self.advance()?;
                    return RawItem::from_fields(fields, open);
                }
                _ => return Err(self.error(&expected)),
            }
        }
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
