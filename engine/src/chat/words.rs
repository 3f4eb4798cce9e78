//! A question as words: lower-cased, split on anything but letters and digits, each remembering
//! its original spelling and whether a period or a name has already claimed it.

#[derive(Debug, Clone)]
pub struct Words {
    lower: Vec<String>,
    original: Vec<String>,
    used: Vec<bool>,
}

impl Words {
    pub fn new(question: &str) -> Self {
        let original: Vec<String> = question
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        Self {
            lower: original.iter().map(|w| w.to_lowercase()).collect(),
            used: vec![false; original.len()],
            original,
        }
    }

    pub fn all(&self) -> &[String] {
        &self.lower
    }

    pub fn len(&self) -> usize {
        self.lower.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }

    pub fn consume(&mut self, from: usize, count: usize) {
        for u in self.used.iter_mut().skip(from).take(count) {
            *u = true;
        }
    }

    pub fn is_used(&self, i: usize) -> bool {
        self.used[i]
    }

    pub fn original(&self, i: usize) -> &str {
        &self.original[i]
    }

    pub fn has(&self, word: &str) -> bool {
        self.lower.iter().any(|w| w == word)
    }

    pub fn has_any(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.has(w))
    }

    /// Whether the words contain `phrase` (space-separated words) in order.
    pub fn has_phrase(&self, phrase: &str) -> bool {
        let p: Vec<&str> = phrase.split(' ').collect();
        self.lower
            .windows(p.len())
            .any(|w| w.iter().zip(&p).all(|(a, b)| a == b))
    }

    /// The words joined with single spaces, for comparing questions.
    pub fn normalized(&self) -> String {
        self.lower.join(" ")
    }
}

/// A name reduced to what matching compares: lower-case letters and digits, single spaces.
pub fn normalize(name: &str) -> String {
    Words::new(name).normalized()
}
