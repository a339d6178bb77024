//! The text form's lexer: turns source text into tokens that carry their 1-based line.
//!
//! Newlines are tokens (a statement ends at the end of its line); `;` starts a comment that
//! runs to the end of the line.

use crate::error::{IrError, Result};

/// One token's kind and text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// `%name`: a node reference (the text after `%`).
    Node(String),
    /// A double-quoted string, escapes resolved.
    Str(String),
    /// An identifier-like word: op names, attribute keys, registers, `inf`, `NaN`.
    Word(String),
    /// A number as written: integers, floats, `-inf`, `0x7fc00001` bit patterns.
    Num(String),
    /// One of `= , : [ ] { }`.
    Punct(char),
    /// The end of a line.
    Newline,
    /// The end of the input.
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Node(n) => format!("`%{n}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Word(w) | Tok::Num(w) => format!("`{w}`"),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Newline => "end of line".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// A token and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    /// What it is.
    pub tok: Tok,
    /// 1-based line number.
    pub line: usize,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn is_num_char(c: char) -> bool {
    is_word_char(c) || c == '+' || c == '-'
}

/// Split `text` into tokens, ending with [`Tok::Eof`].
pub(super) fn lex(text: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    let take_while = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
                      first: Option<char>,
                      pred: fn(char) -> bool| {
        let mut s: String = first.into_iter().collect();
        while let Some(&c) = chars.peek().filter(|&&c| pred(c)) {
            s.push(c);
            chars.next();
        }
        s
    };
    while let Some(c) = chars.next() {
        let tok = match c {
            '\n' => {
                tokens.push(Token {
                    tok: Tok::Newline,
                    line,
                });
                line += 1;
                continue;
            }
            c if c.is_whitespace() => continue,
            ';' => {
                while chars.next_if(|&c| c != '\n').is_some() {}
                continue;
            }
            '=' | ',' | ':' | '[' | ']' | '{' | '}' => Tok::Punct(c),
            '%' => {
                let name = take_while(&mut chars, None, |c| c.is_ascii_alphanumeric() || c == '_');
                if name.is_empty() {
                    return Err(IrError::Parse {
                        line,
                        msg: "`%` must be followed by a node name like `%3`".into(),
                    });
                }
                Tok::Node(name)
            }
            '"' => Tok::Str(lex_string(&mut chars, line)?),
            c if is_word_start(c) => Tok::Word(take_while(&mut chars, Some(c), is_word_char)),
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                Tok::Num(take_while(&mut chars, Some(c), is_num_char))
            }
            c => {
                return Err(IrError::Parse {
                    line,
                    msg: format!("unexpected character {c:?}"),
                });
            }
        };
        tokens.push(Token { tok, line });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        line,
    });
    Ok(tokens)
}

/// The body of a string literal after its opening quote, up to and including the closing one.
fn lex_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, line: usize) -> Result<String> {
    let bad = |msg: &str| IrError::Parse {
        line,
        msg: msg.into(),
    };
    let mut s = String::new();
    loop {
        match chars.next() {
            None | Some('\n') => return Err(bad("unterminated string")),
            Some('"') => return Ok(s),
            Some('\\') => match chars.next() {
                Some('"') => s.push('"'),
                Some('\\') => s.push('\\'),
                Some('n') => s.push('\n'),
                Some('r') => s.push('\r'),
                Some('t') => s.push('\t'),
                Some('u') => {
                    if chars.next() != Some('{') {
                        return Err(bad("expected `{` after `\\u`"));
                    }
                    let mut hex = String::new();
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                        hex.push(c);
                    }
                    let c = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                    s.push(c.ok_or_else(|| bad(&format!("bad unicode escape `\\u{{{hex}}}`")))?);
                }
                _ => {
                    return Err(bad(
                        "unknown escape in string (use \\\" \\\\ \\n \\r \\t \\u{..})",
                    ));
                }
            },
            Some(c) => s.push(c),
        }
    }
}

/// `s` as a quoted string literal the lexer reads back exactly.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        lex(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_numbers_words_and_comments() {
        let toks = kinds("%3 = pad %x value=-inf ; gone\n1e-45 reduce.sum");
        assert_eq!(
            toks,
            vec![
                Tok::Node("3".into()),
                Tok::Punct('='),
                Tok::Word("pad".into()),
                Tok::Node("x".into()),
                Tok::Word("value".into()),
                Tok::Punct('='),
                Tok::Num("-inf".into()),
                Tok::Newline,
                Tok::Num("1e-45".into()),
                Tok::Word("reduce.sum".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn strings_round_trip_through_quote() {
        let s = "a \"b\" \\ c\n\t\u{1}é";
        assert_eq!(kinds(&quote(s)), vec![Tok::Str(s.into()), Tok::Eof]);
    }
}
