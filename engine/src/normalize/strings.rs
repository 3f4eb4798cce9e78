//! Helpers for building Arrow string columns without copying what does not change: most cells
//! of a sell-out file pass through normalization as they came, so a column is rebuilt only from
//! its first changed cell on, and otherwise the raw batch's array is shared.

use datafusion::arrow::array::{Array, StringArray, StringBuilder};
use std::borrow::Cow;

/// Maps every cell of `arr`; returns `arr` itself (shared, not copied) when no cell changed.
///
/// A cell counts as unchanged when `f` hands back the very same slice of `arr` (same address and
/// length) or keeps a null null.
pub fn map_strings<'s>(
    arr: &'s StringArray,
    mut f: impl FnMut(usize, Option<&'s str>) -> Option<Cow<'s, str>>,
) -> StringArray {
    let mut out: Option<StringBuilder> = None;
    for i in 0..arr.len() {
        let v = arr.is_valid(i).then(|| arr.value(i));
        let new = f(i, v);
        if let Some(b) = out.as_mut() {
            b.append_option(new.as_deref());
            continue;
        }
        let same = match (&new, v) {
            (None, None) => true,
            (Some(Cow::Borrowed(n)), Some(v)) => n.as_ptr() == v.as_ptr() && n.len() == v.len(),
            _ => false,
        };
        if !same {
            let mut b = StringBuilder::with_capacity(arr.len(), arr.value_data().len());
            (0..i).for_each(|j| b.append_option(arr.is_valid(j).then(|| arr.value(j))));
            b.append_option(new.as_deref());
            out = Some(b);
        }
    }
    out.map_or_else(|| arr.clone(), |mut b| b.finish())
}

/// `n` copies of one value (or nulls).
pub fn constant(value: Option<&str>, n: usize) -> StringArray {
    match value {
        Some(v) => StringArray::from_iter_values(std::iter::repeat_n(v, n)),
        None => StringArray::new_null(n),
    }
}

/// Nulls replaced by `value`.
pub fn fill_nulls(arr: &StringArray, value: Option<&str>) -> StringArray {
    if arr.null_count() == 0 || value.is_none() {
        return arr.clone();
    }
    map_strings(arr, |_, v| v.or(value).map(Cow::Borrowed))
}

/// Cells replaced at the given rows (`patches` in any order; the last one for a row wins).
pub fn patch(arr: &StringArray, patches: &[(usize, Option<String>)]) -> StringArray {
    if patches.is_empty() {
        return arr.clone();
    }
    let mut at: Vec<Option<usize>> = vec![None; arr.len()];
    patches
        .iter()
        .enumerate()
        .for_each(|(k, (i, _))| at[*i] = Some(k));
    map_strings(arr, |i, v| match at[i] {
        Some(k) => patches[k].1.as_deref().map(|s| Cow::Owned(s.to_owned())),
        None => v.map(Cow::Borrowed),
    })
}

/// The cell at `i`, or `None` when null.
pub fn get(arr: &StringArray, i: usize) -> Option<&str> {
    arr.is_valid(i).then(|| arr.value(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(v: &[Option<&str>]) -> StringArray {
        StringArray::from(v.to_vec())
    }

    #[test]
    fn an_unchanged_column_is_shared_not_copied() {
        let a = arr(&[Some("a"), None, Some("b")]);
        let b = map_strings(&a, |_, v| v.map(Cow::Borrowed));
        assert_eq!(a.value_data().as_ptr(), b.value_data().as_ptr());
        assert_eq!(a, b);
    }

    #[test]
    fn a_change_rebuilds_from_the_first_changed_cell() {
        let a = arr(&[Some(" a"), Some("b"), None, Some("c ")]);
        let b = map_strings(&a, |_, v| v.map(|s| Cow::Borrowed(s.trim())));
        assert_eq!(b, arr(&[Some("a"), Some("b"), None, Some("c")]));
        let c = map_strings(&arr(&[Some("a"), Some("b")]), |i, v| {
            if i == 1 {
                None
            } else {
                v.map(Cow::Borrowed)
            }
        });
        assert_eq!(c, arr(&[Some("a"), None]));
    }

    #[test]
    fn fills_and_patches() {
        let a = arr(&[Some("a"), None, Some("c")]);
        assert_eq!(
            fill_nulls(&a, Some("x")),
            arr(&[Some("a"), Some("x"), Some("c")])
        );
        assert_eq!(
            patch(&a, &[(2, None), (1, Some("y".into()))]),
            arr(&[Some("a"), Some("y"), None])
        );
        assert_eq!(constant(Some("k"), 2), arr(&[Some("k"), Some("k")]));
    }
}
