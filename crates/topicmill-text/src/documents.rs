//! An in-memory collection of documents.

/// Documents with their ids and optional labels, in corpus order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Documents {
    /// One id per document (for 20 Newsgroups, `group/number`).
    pub ids: Vec<String>,
    /// One label per document, when the source has labels.
    pub labels: Option<Vec<String>>,
    /// The text of each document.
    pub texts: Vec<String>,
}

impl Documents {
    /// The number of documents.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether there are no documents.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}
