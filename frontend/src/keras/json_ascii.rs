//! JSON text as Keras writes it into `.h5` attributes: pure ASCII, every other character
//! escaped as `\uXXXX` (Python's `json.dumps` default), so it fits an ASCII-tagged string.

use serde_json::Value;

/// `value` as compact JSON text with every non-ASCII character escaped (`\uXXXX`, a
/// surrogate pair above U+FFFF). Non-ASCII characters occur only inside JSON strings, where
/// the escape means the same character, so the text parses back to the same value.
pub(crate) fn to_ascii_json(value: &Value) -> String {
    let text = value.to_string();
    if text.is_ascii() {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn non_ascii_characters_are_escaped_and_parse_back() {
        let value = json!({"name": "dense_é", "note": "𝄞 clef", "plain": [1, 2.5]});
        let text = to_ascii_json(&value);
        assert!(text.is_ascii(), "{text}");
        assert!(text.contains("\\u00e9"), "{text}");
        assert!(text.contains("\\ud834\\udd1e"), "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
