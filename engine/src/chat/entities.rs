//! Names in a question, resolved against the tenant's own values: resellers, stores, countries
//! and products (functional name, EAN or product name), exactly, with typos, or by a distinctive
//! word. A word that fits several resellers (or stores, or countries) is asked back, never
//! guessed; a word that fits several products of one family ("Ghost of Tom" in 50 and 100 ml)
//! means the family.

use super::words::{normalize, Words};
use serde::{Deserialize, Serialize};

/// What a name can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Reseller,
    Store,
    Country,
    Product,
}

impl Dimension {
    /// The column of the `sales` view it filters and groups.
    pub fn column(self) -> &'static str {
        match self {
            Self::Reseller => "reseller",
            Self::Store => "store",
            Self::Country => "country",
            Self::Product => "product",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Self::Reseller => "reseller",
            Self::Store => "store",
            Self::Country => "country",
            Self::Product => "product",
        }
    }
}

/// A product as the tenant knows it: the value in the `product` column (its functional name where
/// the reference data has one), its EAN and the names it goes by (the reference table's, the
/// resellers' and the web shop's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Product {
    pub key: String,
    pub ean: Option<String>,
    pub names: Vec<String>,
}

/// The tenant's names, read from its lake and reference tables.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub resellers: Vec<String>,
    pub stores: Vec<String>,
    pub countries: Vec<String>,
    pub products: Vec<Product>,
}

/// A filter on one dimension: the row's value is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    pub dimension: Dimension,
    pub values: Vec<String>,
    /// The words of the question it was read from.
    pub said: String,
}

/// What the names in a question came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Names {
    Found(Vec<Entity>),
    Ambiguous {
        said: String,
        dimension: Dimension,
        candidates: Vec<String>,
    },
}

/// Country names people write for the ISO codes the specs produce.
const COUNTRY_NAMES: &[(&str, &[&str])] = &[
    (
        "GB",
        &[
            "uk",
            "united kingdom",
            "britain",
            "great britain",
            "england",
        ],
    ),
    ("NL", &["netherlands", "holland", "the netherlands"]),
    ("ZA", &["south africa"]),
    ("PL", &["poland"]),
    ("LV", &["latvia"]),
    ("LT", &["lithuania"]),
    ("EE", &["estonia"]),
    ("DE", &["germany"]),
    ("FR", &["france"]),
    ("SE", &["sweden"]),
    ("ES", &["spain"]),
    ("IT", &["italy"]),
    ("US", &["usa", "united states", "america"]),
    ("BE", &["belgium"]),
    ("DK", &["denmark"]),
    ("NO", &["norway"]),
    ("FI", &["finland"]),
    ("CH", &["switzerland"]),
    ("AT", &["austria"]),
    ("IE", &["ireland"]),
];

/// One way a value can be written, as words.
struct Alias {
    dimension: Dimension,
    value: String,
    words: Vec<String>,
}

fn aliases(vocab: &Vocabulary) -> Vec<Alias> {
    let mut out = Vec::new();
    let mut add = |dimension, value: &str, text: &str| {
        let words: Vec<String> = normalize(text)
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        if !words.is_empty() {
            out.push(Alias {
                dimension,
                value: value.to_owned(),
                words,
            });
        }
    };
    for r in &vocab.resellers {
        add(Dimension::Reseller, r, r);
    }
    for s in &vocab.stores {
        add(Dimension::Store, s, s);
    }
    for c in &vocab.countries {
        for (code, names) in COUNTRY_NAMES {
            if c.eq_ignore_ascii_case(code) {
                for n in *names {
                    add(Dimension::Country, c, n);
                }
            }
        }
        if c.len() > 2 {
            add(Dimension::Country, c, c);
        }
    }
    for p in &vocab.products {
        add(Dimension::Product, &p.key, &p.key);
        if let Some(e) = &p.ean {
            add(Dimension::Product, &p.key, e);
        }
        for n in &p.names {
            add(Dimension::Product, &p.key, n);
        }
    }
    out
}

/// Words that name a channel, not a reseller or store.
const CHANNEL_WORDS: &[&str] = &[
    "online",
    "offline",
    "retail",
    "web",
    "ecommerce",
    "internet",
];

/// Words that say nothing about which value is meant.
const GENERIC: &[&str] = &[
    "the", "and", "of", "de", "la", "le", "store", "stores", "shop", "online", "retail", "ltd",
    "eau", "parfum", "ml", "edp", "edt", "sales", "group", "in", "for", "by", "per", "at", "to",
];

/// The same word, or one typo away in a word of five letters or more. Words with digits (codes,
/// EANs, sizes) only ever match exactly: BBSC100 is not BBSP100.
fn similar(a: &str, b: &str) -> bool {
    let digits = |w: &str| w.chars().any(|c| c.is_ascii_digit());
    a == b
        || (!digits(a)
            && !digits(b)
            && a.len() >= 5
            && b.len() >= 5
            && strsim::jaro_winkler(a, b) >= 0.93)
}

/// A hit of an alias on the question's words.
#[derive(Debug)]
struct Hit {
    dimension: Dimension,
    value: String,
    start: usize,
    len: usize,
    /// The whole alias matched (else one distinctive word of it).
    full: bool,
}

/// Resolves the names in the words that periods have not taken, consuming the words they use.
pub fn resolve(words: &mut Words, vocab: &Vocabulary) -> Names {
    let aliases = aliases(vocab);
    let distinctive = distinctive_words(&aliases);
    let w: Vec<String> = words.all().to_vec();
    let free = |i: usize, n: usize, words: &Words| {
        (i..i + n).all(|k| k < words.len() && !words.is_used(k))
    };
    let mut hits: Vec<Hit> = Vec::new();
    for a in &aliases {
        // "online" and "offline" are channels, even where a reseller is called Online.
        if a.words.iter().all(|w| CHANNEL_WORDS.contains(&w.as_str())) {
            continue;
        }
        let n = a.words.len();
        for start in 0..w.len() {
            if !free(start, n, words) {
                continue;
            }
            let same = (0..n).all(|k| similar(&w[start + k], &a.words[k]));
            // Codes and EANs only exactly; names with one typo per word.
            let exact = (0..n).all(|k| w[start + k] == a.words[k]);
            let short = a
                .words
                .iter()
                .all(|x| x.len() <= 3 || x.chars().all(|c| c.is_ascii_digit()));
            if (short && exact) || (!short && same) {
                hits.push(Hit {
                    dimension: a.dimension,
                    value: a.value.clone(),
                    start,
                    len: n,
                    full: true,
                });
            }
        }
    }
    // The longest full hits win; a shorter hit inside a longer one is the longer one's.
    hits.sort_by(|a, b| b.len.cmp(&a.len).then(a.start.cmp(&b.start)));
    let mut kept: Vec<Hit> = Vec::new();
    for h in hits {
        let overlaps = |k: &Hit| k.start < h.start + h.len && h.start < k.start + k.len;
        let shadowed = kept
            .iter()
            .any(|k| overlaps(k) && (k.start, k.len) != (h.start, h.len));
        if !shadowed {
            kept.push(h);
        }
    }
    for h in &kept {
        words.consume(h.start, h.len);
    }
    // Distinctive single words of longer names ("Liberty" for Liberty London).
    for (i, word) in w.iter().enumerate() {
        if words.is_used(i) || GENERIC.contains(&word.as_str()) || word.len() < 3 {
            continue;
        }
        let mut partial: Vec<Hit> = Vec::new();
        for a in aliases.iter().filter(|a| a.words.len() > 1) {
            let fits = a.words.iter().any(|aw| {
                distinctive.contains(aw) && similar(word, aw) && (word.len() >= 4 || word == aw)
            });
            let seen = partial
                .iter()
                .any(|p| p.value == a.value && p.dimension == a.dimension);
            if fits && !seen {
                partial.push(Hit {
                    dimension: a.dimension,
                    value: a.value.clone(),
                    start: i,
                    len: 1,
                    full: false,
                });
            }
        }
        if partial.is_empty() {
            continue;
        }
        words.consume(i, 1);
        kept.extend(partial);
    }
    group(kept, &w)
}

/// Words that appear in at most half the names of their dimension (when it has three or more):
/// "bibbi" in every product name points at none of them.
fn distinctive_words(aliases: &[Alias]) -> std::collections::HashSet<String> {
    use std::collections::{HashMap, HashSet};
    /// A dimension's values, and per word the values it appears in.
    type Counts<'a> = (HashSet<&'a str>, HashMap<&'a str, HashSet<&'a str>>);
    let mut by_dim: HashMap<Dimension, Counts> = HashMap::new();
    for a in aliases {
        let (values, counts) = by_dim.entry(a.dimension).or_default();
        values.insert(&a.value);
        for w in &a.words {
            counts.entry(w).or_default().insert(&a.value);
        }
    }
    let mut out = HashSet::new();
    for (values, counts) in by_dim.values() {
        for (w, vs) in counts {
            if values.len() < 3 || vs.len() * 2 <= values.len() {
                out.insert((*w).to_owned());
            }
        }
    }
    out
}

fn group(hits: Vec<Hit>, w: &[String]) -> Names {
    use std::collections::BTreeMap;
    // By the words they were read from: one span, one dimension.
    let mut spans: BTreeMap<(usize, usize), Vec<Hit>> = BTreeMap::new();
    for h in hits {
        spans.entry((h.start, h.len)).or_default().push(h);
    }
    let mut found: Vec<Entity> = Vec::new();
    for ((start, len), hs) in spans {
        let said = w[start..start + len].join(" ");
        let full = hs.iter().any(|h| h.full);
        let hs: Vec<Hit> = hs.into_iter().filter(|h| h.full == full).collect();
        // A span that names a reseller and a store (a flagship of the same name) is the reseller.
        let dimension = hs
            .iter()
            .map(|h| h.dimension)
            .min()
            .expect("a span has hits");
        let mut values: Vec<String> = hs
            .iter()
            .filter(|h| h.dimension == dimension)
            .map(|h| h.value.clone())
            .collect();
        values.sort();
        values.dedup();
        if values.len() > 1 && dimension != Dimension::Product {
            return Names::Ambiguous {
                said,
                dimension,
                candidates: values,
            };
        }
        match found.iter_mut().find(|e| e.dimension == dimension) {
            // "Ghost of Tom or Super Cedar": either.
            Some(e) => {
                e.values.extend(values);
                e.values.sort();
                e.values.dedup();
                e.said = format!("{} {said}", e.said);
            }
            None => found.push(Entity {
                dimension,
                values,
                said,
            }),
        }
    }
    Names::Found(found)
}
