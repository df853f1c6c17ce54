//! Text of the report: numbers as French readers write them, and HTML escaping.

/// A number in French: a narrow no-break space between thousands, a decimal comma; whole
/// numbers for counts, fewer decimals as values grow.
pub fn number(v: f64, integer: bool) -> String {
    let magnitude = v.abs();
    let decimals = if integer || magnitude >= 1000.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{magnitude:.decimals$}");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits: Vec<char> = whole.chars().collect();
    let mut grouped = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(*c);
    }
    let negative = v < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
    let sign = if negative { "−" } else { "" };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{fraction}")
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A measure's column name in words: `nombre`, `somme_etpr`, `moyenne_age`.
pub fn measure_label(name: &str) -> String {
    if name == "nombre" {
        "effectif (nombre)".to_string()
    } else if let Some(col) = name.strip_prefix("somme_") {
        format!("somme de {}", col.replace('_', " "))
    } else if let Some(col) = name.strip_prefix("moyenne_") {
        format!("moyenne de {}", col.replace('_', " "))
    } else {
        name.replace('_', " ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_in_french() {
        assert_eq!(number(1234567.0, true), "1\u{202f}234\u{202f}567");
        assert_eq!(number(3.456, false), "3,46");
        assert_eq!(number(42.25, false), "42,2");
        assert_eq!(number(-1500.4, false), "−1\u{202f}500");
        assert_eq!(number(-0.001, false), "0,00");
        assert_eq!(number(999.0, true), "999");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            measure_label("somme_jours_calendaires"),
            "somme de jours calendaires"
        );
    }
}
