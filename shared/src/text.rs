//! Showing text that came from outside (a request, an imported file, a node's answer) without
//! trusting its length or where its characters start: a prefix cut on a character boundary, a
//! short quoted excerpt for error messages, and a cap on a whole message.

/// Bytes of outside text an error message quotes.
pub const QUOTED_BYTES: usize = 64;

/// Longest error message a service sends back (a gRPC status travels in an HTTP/2 header,
/// which standard clients refuse beyond a few kilobytes).
pub const MAX_MESSAGE_BYTES: usize = 2048;

/// At most `max_bytes` bytes of `s`, cut at the last character boundary before the limit (a
/// multi-byte character is left out whole, never split).
pub fn prefix(s: &str, max_bytes: usize) -> &str {
    let mut end = max_bytes.min(s.len());
    // 0 is always a boundary, so this ends.
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// `s` quoted for an error message: whole when short, else its first [`QUOTED_BYTES`] bytes
/// and its size, `"abc…" (1048576 bytes)`. Control characters are escaped.
pub fn quote(s: &str) -> String {
    let shown = prefix(s, QUOTED_BYTES);
    if shown.len() == s.len() {
        format!("{s:?}")
    } else {
        format!("{shown:?}… ({} bytes)", s.len())
    }
}

/// `s` whole when it fits in `max_bytes`, else its prefix marked as cut, `abc… (1048576
/// bytes)`: for values recorded in logs, where a quote's escaping would be noise.
pub fn bounded(s: &str, max_bytes: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max_bytes {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(format!("{}… ({} bytes)", prefix(s, max_bytes), s.len()))
    }
}

/// `message` cut to [`MAX_MESSAGE_BYTES`], saying so when it was: the last guard before an
/// error leaves a service, whatever the message quotes.
pub fn cap_message(message: String) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    let total = message.len();
    format!(
        "{}… (message cut at {MAX_MESSAGE_BYTES} of its {total} bytes)",
        prefix(&message, MAX_MESSAGE_BYTES)
    )
}

/// What a caught panic said (its payload's text, bounded), for an error that replaces it.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let said = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    bounded(said, 200).into_owned()
}

/// `c` without its accent, for the French letters (lower case): names typed by people are
/// matched without regard to accents.
pub fn unaccented(c: char) -> char {
    match c {
        'à' | 'â' | 'ä' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'î' | 'ï' => 'i',
        'ô' | 'ö' => 'o',
        'ù' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_never_splits_a_character() {
        // "é" is two bytes: a limit falling inside it leaves it out.
        assert_eq!(prefix("abé", 3), "ab");
        assert_eq!(prefix("abé", 4), "abé");
        assert_eq!(prefix("abé", 100), "abé");
        assert_eq!(prefix("€€€", 1), "");
        assert_eq!(prefix("", 5), "");
        // Every limit on a string of 1-, 2-, 3- and 4-byte characters gives a boundary.
        let mixed = "a€é😀b";
        for n in 0..=mixed.len() + 1 {
            let p = prefix(mixed, n);
            assert!(p.len() <= n && mixed.starts_with(p), "{n}: {p:?}");
        }
    }

    #[test]
    fn quotes_are_short_and_say_how_long_the_text_was() {
        assert_eq!(quote("sexe"), "\"sexe\"");
        let long = "é".repeat(500_000);
        let q = quote(&long);
        assert!(q.len() < QUOTED_BYTES + 40, "{q}");
        assert!(q.ends_with("… (1000000 bytes)"), "{q}");
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn long_messages_are_cut_and_say_so() {
        let short = "no study S-1".to_string();
        assert_eq!(cap_message(short.clone()), short);
        let long = format!("no study {}", "x".repeat(1 << 20));
        let cut = cap_message(long);
        assert!(cut.len() < MAX_MESSAGE_BYTES + 80, "{}", cut.len());
        assert!(cut.starts_with("no study xxx"));
        assert!(cut.ends_with(&format!("of its {} bytes)", 9 + (1 << 20))));
        assert_eq!(bounded("court", 10), "court");
        assert_eq!(bounded("longer text", 6), "longer… (11 bytes)");
    }
}
