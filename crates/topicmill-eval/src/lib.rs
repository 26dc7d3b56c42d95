//! topicmill-eval: how good are the topics, and how do two models' topics
//! correspond.
//!
//! Topics come in as plain data — a [`Factors`] borrows W (n × k) and Hᵀ
//! (m × k), row-major `f32`, from any model: topicmill's, or scikit-learn's
//! saved as `.npy` — and the corpus as CSR views (`topicmill_sparse::CsrView`)
//! of X and Xᵀ, never densified.
//!
//! - [`evaluate`] computes everything below at once into an [`Evaluation`]
//!   (per topic a [`TopicScore`]), with [`EvalOptions`] (10 words for
//!   coherence, 25 for diversity).
//! - [`npmi_coherence`] → [`Coherence`]: NPMI of each topic's top words from
//!   document co-occurrence (zero co-occurrence scores −1).
//! - [`topic_diversity`]: unique fraction of all top words.
//! - [`reconstruction_error`] → [`Reconstruction`]: ‖X − WH‖_F / ‖X‖_F from
//!   X's non-zeros by the trace identity.
//! - [`cluster_scores`] → [`ClusterScores`]: NMI, ARI (as scikit-learn) and
//!   purity of a clustering, for example [`dominant_topics`], against labels.
//! - [`top_words`], [`top_documents`], [`dominant_topics`]: read off the factors.
//! - [`cosine_similarities`], [`hungarian_max`], [`match_topics`] →
//!   [`TopicMatching`] of [`TopicPair`]s, and [`stability`]: topic
//!   correspondence between two models (seeds, nights).
//! - [`EvalError`]: every error names the input and the place.
//!
//! Parallel parts use rayon over fixed blocks: results do not depend on the
//! number of threads.
//!
//! ```
//! use topicmill_eval::{evaluate, match_topics, EvalOptions, Factors};
//! use topicmill_sparse::{transpose, CsrMatrix};
//!
//! // 4 documents × 4 terms: documents 0–1 use terms 0–1, documents 2–3 terms 2–3.
//! let x = CsrMatrix::new(
//!     (4, 4),
//!     vec![0, 2, 4, 6, 8],
//!     vec![0, 1, 0, 1, 2, 3, 2, 3],
//!     vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
//! );
//! let xt = transpose(x.view());
//! // An exact rank-2 factorization: W (4 × 2) and Hᵀ (4 × 2), row-major.
//! let w = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
//! let ht = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
//! let factors = Factors::new(&w, &ht, 2)?;
//! let labels = ["sport", "sport", "space", "space"];
//! // Each topic has two words of positive weight: score two of each.
//! let options = EvalOptions { coherence_words: 2, diversity_words: 2 };
//! let eval = evaluate(x.view(), xt.view(), &factors, Some(&labels[..]), &options)?;
//! assert_eq!(eval.topics[0].words, [0, 1]);
//! // Terms 0 and 1 occur in exactly the same documents: NPMI 1.
//! assert!((eval.topics[0].coherence - 1.0).abs() < 1e-12);
//! assert_eq!(eval.topics[0].share, 0.5);
//! assert_eq!(eval.diversity, 1.0);
//! assert!(eval.reconstruction.relative < 1e-6);
//! assert_eq!(eval.clustering.unwrap().nmi, 1.0);
//!
//! // The same topics in the other order are matched back, similarity 1.
//! let swapped = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
//! let matching = match_topics(&ht, 2, &swapped, 2)?;
//! assert_eq!((matching.pairs[0].b, matching.pairs[1].b), (1, 0));
//! assert_eq!(matching.mean_similarity, 1.0);
//! # Ok::<(), topicmill_eval::EvalError>(())
//! ```

mod clustering;
mod coherence;
mod diversity;
mod error;
mod evaluate;
mod factors;
mod matching;
mod reconstruction;

pub use crate::{
    clustering::{cluster_scores, ClusterScores},
    coherence::{npmi_coherence, Coherence},
    diversity::topic_diversity,
    error::EvalError,
    evaluate::{evaluate, EvalOptions, Evaluation, TopicScore},
    factors::{dominant_topics, top_documents, top_words, Factors},
    matching::{
        cosine_similarities, hungarian_max, match_topics, stability, TopicMatching, TopicPair,
    },
    reconstruction::{reconstruction_error, Reconstruction},
};
