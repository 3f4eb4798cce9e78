//! Finds the line and column of a key path (`fields.quantity.extract`, `validate[1].check`) in
//! YAML text, so semantic errors point where serde's own errors do. It follows indentation
//! rather than parsing, which is enough for the block style specs are written in.

/// 1-based line and column of the value at `path`, or of the deepest part found.
pub fn locate(text: &str, path: &str) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut min_indent = 0;
    let mut found = (1, 1);
    for segment in path.split('.') {
        let (key, index) = match segment.split_once('[') {
            Some((k, i)) => (k, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some((line, indent)) = find_key(&lines, from, min_indent, key) else {
            break;
        };
        found = (line + 1, indent + 1);
        from = line + 1;
        min_indent = indent + 1;
        if let Some(i) = index {
            let Some((line, indent)) = find_item(&lines, from, min_indent, i) else {
                break;
            };
            found = (line + 1, indent + 1);
            from = line;
            min_indent = indent;
        }
    }
    found
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '-']).len()
}

fn find_key(lines: &[&str], from: usize, min_indent: usize, key: &str) -> Option<(usize, usize)> {
    for (i, line) in lines.iter().enumerate().skip(from) {
        let t = line.trim_start_matches([' ', '-']);
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let ind = indent_of(line);
        if ind < min_indent && i > from {
            return None;
        }
        let bare = t.trim_start_matches(['"', '\'']);
        if bare.starts_with(key)
            && bare[key.len()..]
                .trim_start_matches(['"', '\''])
                .starts_with(':')
        {
            return Some((i, ind));
        }
    }
    None
}

fn find_item(
    lines: &[&str],
    from: usize,
    min_indent: usize,
    index: usize,
) -> Option<(usize, usize)> {
    let mut seen = 0;
    let mut item_indent = None;
    for (i, line) in lines.iter().enumerate().skip(from) {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let ind = line.len() - t.len();
        if ind + 1 < min_indent {
            return None;
        }
        if (t.starts_with("- ") || t == "-") && *item_indent.get_or_insert(ind) == ind {
            if seen == index {
                return Some((i, ind + 2));
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn finds_nested_keys_and_list_items() {
        let text = "vendor: x\nfields:\n  quantity:\n    column: QTY\n    extract: '('\nvalidate:\n  - rule: a\n    check: x\n  - rule: b\n    check: 'y >'\n";
        assert_eq!(locate(text, "fields.quantity.extract"), (5, 5));
        assert_eq!(locate(text, "validate[1].check"), (10, 5));
        assert_eq!(locate(text, "vendor"), (1, 1));
    }
}
