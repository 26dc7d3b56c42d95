//! An in-memory collection of documents.

use topicmill_sparse::line_break;

use crate::TextError;

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

    /// Checks that there is one id per text, and one label per text when
    /// there are labels. `before` is the number of documents that precede
    /// these in the source: the error ([`TextError::DocumentParts`]) names
    /// the first of these, 1-based, in the whole source.
    pub fn check_parts(&self, before: usize) -> Result<(), TextError> {
        let texts = self.texts.len();
        let labels = self.labels.as_ref().map(Vec::len);
        for (what, found) in [("ids", Some(self.ids.len())), ("labels", labels)] {
            match found {
                Some(found) if found != texts => {
                    return Err(TextError::DocumentParts {
                        first: before + 1,
                        what,
                        found,
                        texts,
                    })
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks that no id or label holds a line break, which a corpus
    /// directory (one per line) cannot store, so that a run stops before its
    /// work rather than at the writing. `before` is the number of documents
    /// that precede these in the source (a streamed chunk's offset): the
    /// error names the first such document, 1-based, in the whole source.
    pub fn check_one_per_line(&self, before: usize) -> Result<(), TextError> {
        let id = line_break(&self.ids).map(|(i, v)| (i, "id", v));
        let label = self
            .labels
            .as_deref()
            .and_then(line_break)
            .map(|(i, v)| (i, "label", v));
        match [id, label].into_iter().flatten().min_by_key(|&(i, ..)| i) {
            Some((i, what, value)) => Err(TextError::LineBreak {
                document: before + i + 1,
                what,
                value: value.to_string(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_labels_are_one_per_text() {
        let docs = |ids: usize, labels: Option<usize>, texts: usize| Documents {
            ids: vec!["i".into(); ids],
            labels: labels.map(|n| vec!["l".into(); n]),
            texts: vec!["t".into(); texts],
        };
        assert!(docs(2, Some(2), 2).check_parts(0).is_ok());
        assert!(docs(2, None, 2).check_parts(0).is_ok());
        assert_eq!(
            docs(1, None, 2).check_parts(300).unwrap_err().to_string(),
            "the documents from number 301: 1 ids for 2 texts"
        );
        assert_eq!(
            docs(2, Some(3), 2).check_parts(0).unwrap_err().to_string(),
            "the documents from number 1: 3 labels for 2 texts"
        );
    }

    #[test]
    fn the_first_document_with_a_line_break_is_named_in_the_whole_source() {
        let docs = |ids: &[&str], labels: Option<&[&str]>| Documents {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            labels: labels.map(|l| l.iter().map(|s| s.to_string()).collect()),
            texts: vec![String::new(); ids.len()],
        };
        let ok = docs(&["a", "b"], Some(&["x", "y"]));
        assert!(ok.check_one_per_line(0).is_ok());
        let both = docs(&["a", "b", "c\n"], Some(&["x", "y\r", "z"]));
        let err = both.check_one_per_line(10).unwrap_err();
        assert!(
            matches!(&err, TextError::LineBreak { document: 12, what: "label", value } if value == "y\r"),
            "{err:?}"
        );
        let id = docs(&["a\n"], None).check_one_per_line(0).unwrap_err();
        assert_eq!(
            id.to_string(),
            "document 1: its id \"a\\n\" holds a line break, which a corpus directory cannot store"
        );
    }
}
