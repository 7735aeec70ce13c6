//! A plain-text table: a left-aligned label column and right-aligned value
//! columns, as the benchmarks print their reports.

/// Renders `rows` under `header`; a row with no values is a blank line.
pub(crate) fn render(header: &[String], rows: &[(String, Vec<String>)]) -> String {
    let columns = header.len();
    let mut widths = vec![0usize; columns + 1];
    for (label, values) in rows {
        widths[0] = widths[0].max(label.chars().count());
        for (i, v) in values.iter().enumerate().take(columns) {
            widths[i + 1] = widths[i + 1].max(v.chars().count());
        }
    }
    for (i, h) in header.iter().enumerate() {
        widths[i + 1] = widths[i + 1].max(h.chars().count());
    }
    let mut out = String::new();
    let mut line = |label: &str, values: &[String]| {
        let mut l = format!("{label:<w$}", w = widths[0]);
        for (i, v) in values.iter().enumerate().take(columns) {
            l.push_str(&format!("  {v:>w$}", w = widths[i + 1]));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line("", header);
    for (label, values) in rows {
        line(label, values);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns_columns() {
        let header = vec!["sqlite".to_owned(), "etcd".to_owned()];
        let rows = vec![
            (
                "puts/s".to_owned(),
                vec!["12345".to_owned(), "7".to_owned()],
            ),
            (String::new(), Vec::new()),
            (
                "gets/s, 64 clients".to_owned(),
                vec!["1".to_owned(), "22".to_owned()],
            ),
        ];
        let text = super::render(&header, &rows);
        let expected = "                    sqlite  etcd\n\
                        puts/s               12345     7\n\
                        \n\
                        gets/s, 64 clients       1    22\n";
        assert_eq!(text, expected);
    }
}
