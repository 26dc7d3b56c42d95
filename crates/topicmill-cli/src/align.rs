//! Vocabulary alignment for nightly runs: today's corpus, vectorized on its own,
//! is re-indexed so that yesterday's terms keep their column numbers and
//! today's new terms are appended after them (in sorted order). A warm-started
//! fit can then reuse yesterday's H row for row.
//!
//! Only the column numbering changes: each document's TF-IDF values are those
//! of an ordinary fit on today's documents (IDF and normalization from today's
//! corpus). Yesterday's terms that no longer occur (or fall below `min_df`) stay
//! as empty columns.
//!
//! `vectorize --no-new-terms` instead keeps yesterday's terms only, by a fit
//! on that fixed vocabulary (`TfidfParams::fit_transform_with_vocabulary`):
//! the corpus gets exactly the previous vocabulary, which `topicmill
//! transform` needs to score new documents with a model.
//!
//! A streamed corpus cannot be re-indexed after its fit: its second pass
//! goes through the first pass's vectorizer rebuilt on the aligned columns
//! instead ([`streamed_vectorizer`]).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use topicmill_sparse::{Corpus, CsrMatrix, CsrView};
use topicmill_text::{TfidfModel, UnseenTerms, VocabularyMatch};

/// The vocabulary of a corpus directory or of a model file, checked to list
/// each term once.
pub fn previous_vocabulary(path: &Path) -> Result<Vec<String>> {
    let vocabulary = if path.is_dir() {
        let corpus =
            Corpus::open(path).with_context(|| format!("cannot open corpus {}", path.display()))?;
        corpus.vocabulary().to_vec()
    } else {
        let model = crate::output::load_model_without_w(path)?;
        match model.vocabulary() {
            Some(vocabulary) => vocabulary.to_vec(),
            None => bail!(
                "model {} records no vocabulary: give the corpus directory it was fitted on",
                path.display()
            ),
        }
    };
    positions(&vocabulary).with_context(|| path.display().to_string())?;
    Ok(vocabulary)
}

/// A matrix re-indexed onto the previous vocabulary.
pub struct Aligned {
    pub vocabulary: Vec<String>,
    pub matrix: CsrMatrix,
    /// Terms appended after the previous vocabulary.
    pub new_terms: usize,
    /// Previous terms with no non-zero today.
    pub unused_previous_terms: usize,
}

/// The column of each previous term; an error if a term is listed twice.
fn positions(previous: &[String]) -> Result<HashMap<&str, u32>> {
    let mut position: HashMap<&str, u32> = HashMap::with_capacity(previous.len());
    for (i, term) in previous.iter().enumerate() {
        if position.insert(term.as_str(), i as u32).is_some() {
            bail!("the previous vocabulary lists `{term}` twice");
        }
    }
    Ok(position)
}

/// `previous` followed by the terms of `vocabulary` that it lacks, in their
/// order; and the column there of each term of `vocabulary`.
fn extended_vocabulary(
    previous: &[String],
    vocabulary: &[String],
) -> Result<(Vec<String>, Vec<u32>)> {
    let position = positions(previous)?;
    let mut extended = previous.to_vec();
    let mut column = Vec::with_capacity(vocabulary.len());
    for term in vocabulary {
        let index = match position.get(term.as_str()) {
            Some(&i) => i,
            None => {
                extended.push(term.clone());
                u32::try_from(extended.len() - 1).context("vocabulary exceeds u32 columns")?
            }
        };
        column.push(index);
    }
    Ok((extended, column))
}

/// Re-indexes `matrix` (columns = `vocabulary`) onto `previous` followed by the
/// terms of `vocabulary` that `previous` lacks, in their order.
pub fn extend_vocabulary(
    previous: &[String],
    vocabulary: &[String],
    matrix: CsrView<'_>,
) -> Result<Aligned> {
    let (extended, column) = extended_vocabulary(previous, vocabulary)?;
    // Values as they are: no term is dropped, so rows keep their norms.
    let (matrix, unused_previous_terms) = remap(matrix, &column, extended.len(), previous.len());
    Ok(Aligned {
        new_terms: extended.len() - previous.len(),
        vocabulary: extended,
        matrix,
        unused_previous_terms,
    })
}

/// How a corpus met the previous vocabulary.
pub enum Alignment {
    /// This corpus's new terms appended ([`extend_vocabulary`]).
    Extended {
        /// Previous terms with no value.
        unused: usize,
        new_terms: usize,
    },
    /// The previous terms alone (`--no-new-terms`).
    Restricted {
        /// Previous terms with no value.
        unused: usize,
        /// This corpus's terms without a column.
        left_out: usize,
    },
}

impl Alignment {
    /// The previous terms alone, as a fit on them met the documents.
    pub fn restricted(matched: VocabularyMatch) -> Self {
        Alignment::Restricted {
            unused: matched.unused_terms,
            left_out: matched.unmatched_terms,
        }
    }

    /// Reports it on stderr (above `progress`), for the previous vocabulary
    /// at `path` of `terms` terms.
    pub fn report(&self, path: &Path, terms: usize, progress: &indicatif::ProgressBar) {
        let (unused, rest) = match self {
            Alignment::Extended { unused, new_terms } => {
                (unused, format!("{new_terms} new terms appended"))
            }
            Alignment::Restricted { unused, left_out } => {
                (unused, format!("{left_out} terms of this corpus left out"))
            }
        };
        progress.suspend(|| {
            eprintln!(
                "vocabulary of {}: {terms} terms kept in place ({unused} unused today), {rest}",
                path.display()
            )
        });
    }
}

/// The vectorizer a streamed corpus aligned on `previous` is written with,
/// from `fitted`, the vectorizer of its first pass, and its columns'
/// document frequencies `df`: the same one with its columns re-indexed as
/// [`extend_vocabulary`] does, the same values (up to the rounding of a row
/// norm summed in another order); or, with `no_new_terms`, a fit on
/// `previous` as a fixed vocabulary (`fitted` must then hold every term of
/// its documents: `min_df` 1, no `max_df`, no `max_features`).
pub fn streamed_vectorizer(
    previous: &[String],
    no_new_terms: bool,
    fitted: TfidfModel,
    df: &[u64],
) -> Result<(TfidfModel, Alignment)> {
    let params = fitted.params().clone();
    if no_new_terms {
        let (model, matched) = fitted.on_fixed_vocabulary(df, previous.to_vec())?;
        return Ok((model, Alignment::restricted(matched)));
    }
    let (extended, column) = extended_vocabulary(previous, fitted.vocabulary())?;
    let mut df_extended = vec![0u64; extended.len()];
    for (&c, &d) in column.iter().zip(df) {
        df_extended[c as usize] = d;
    }
    let alignment = Alignment::Extended {
        unused: df_extended[..previous.len()]
            .iter()
            .filter(|&&d| d == 0)
            .count(),
        new_terms: extended.len() - previous.len(),
    };
    let model = TfidfModel::from_document_frequencies(
        params,
        extended,
        &df_extended,
        fitted.n_docs(),
        UnseenTerms::Dropped,
    )?;
    Ok((model, alignment))
}

/// `matrix` with its column j moved to `column[j]`, `cols` columns wide,
/// values as they are. Also returns how many of the first `previous` columns
/// hold no value.
fn remap(matrix: CsrView<'_>, column: &[u32], cols: usize, previous: usize) -> (CsrMatrix, usize) {
    let mut used = vec![false; cols];
    let mut indptr = Vec::with_capacity(matrix.rows() + 1);
    let mut indices = Vec::with_capacity(matrix.nnz());
    let mut data = Vec::with_capacity(matrix.nnz());
    indptr.push(0u64);
    let mut row: Vec<(u32, f32)> = Vec::new();
    for vector in matrix.outer_iterator() {
        row.clear();
        row.extend(
            vector
                .indices()
                .iter()
                .zip(vector.data())
                .map(|(&j, &v)| (column[j as usize], v)),
        );
        row.sort_unstable_by_key(|&(j, _)| j);
        for &(j, v) in &row {
            used[j as usize] = true;
            indices.push(j);
            data.push(v);
        }
        indptr.push(indices.len() as u64);
    }
    let unused = used[..previous].iter().filter(|u| !**u).count();
    (
        CsrMatrix::new((matrix.rows(), cols), indptr, indices, data),
        unused,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn previous_terms_keep_their_columns_and_new_ones_follow() {
        let previous = strings(&["cat", "dog", "emu"]);
        let today = strings(&["ant", "dog", "emu", "fox"]);
        // Two documents over today's columns.
        let m = CsrMatrix::new(
            (2, 4),
            vec![0u64, 3, 4],
            vec![0u32, 1, 3, 2],
            vec![0.1f32, 0.2, 0.3, 0.4],
        );
        let aligned = extend_vocabulary(&previous, &today, m.view()).unwrap();
        assert_eq!(
            aligned.vocabulary,
            strings(&["cat", "dog", "emu", "ant", "fox"])
        );
        assert_eq!(aligned.new_terms, 2);
        assert_eq!(aligned.unused_previous_terms, 1);
        let row0 = aligned.matrix.outer_view(0).unwrap();
        // dog → 1, ant → 3, fox → 4: sorted by the new index.
        assert_eq!(row0.indices(), &[1, 3, 4]);
        assert_eq!(row0.data(), &[0.2, 0.1, 0.3]);
        let row1 = aligned.matrix.outer_view(1).unwrap();
        assert_eq!(row1.indices(), &[2]);
        assert_eq!(aligned.matrix.cols(), 5);
    }

    #[test]
    fn duplicate_previous_terms_are_an_error() {
        let m = CsrMatrix::new((0, 0), vec![0u64], Vec::new(), Vec::new());
        assert!(extend_vocabulary(&strings(&["a", "a"]), &[], m.view()).is_err());
    }
}
