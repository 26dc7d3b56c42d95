//! The distributed fit loop.
//!
//! Rank p owns the documents `rows[p]` (a row block balanced by non-zeros):
//! its rows of X (a zero-copy window of the mapped file), their transpose
//! (built locally, m × |rows[p]|) and its rows of W. Every rank holds all of
//! Hᵀ, and rank p updates the terms `[p·b, (p+1)·b)` of it. One iteration:
//!
//! ```text
//! W-step  N_W = X_p·Hᵀ, rule on W_p with S_H            local
//!         S_W = Σ_p W_pᵀW_p                               all-reduce k × k
//! H-step  Σ_p X_pᵀW_p                                     reduce-scatter m × k by term blocks
//!         rule on own terms of Hᵀ with S_W                local
//!         S_H, ⟨Hᵀ, N_H⟩                                  all-reduce k × k + 1
//!         Hᵀ                                              all-gather m × k
//! ```
//!
//! The k × k reductions gather every rank's partial and add them in rank
//! order on every rank, so all ranks hold bitwise-equal Grams and losses and
//! take the same stopping decision whatever algorithm the MPI library picks.
//!
//! Data of extreme magnitude are fitted as `fit` fits them: when X's largest
//! value (the maximum over the ranks, an order-free reduction) lies outside
//! `[2^-16, 2^40]`, every rank runs the initialization and the iterations on
//! its rows times `2^s` (`steps::exponent_for`), the factors at `2^(s/2)`
//! times theirs, with the regularization of the same minimizer; the model's
//! Hᵀ, the errors and the loss history are scaled back, and W is `fit`'s
//! final solve at X's exponent (`steps::final_w`). Checkpoints hold the
//! factors as the iterations have them (scaled, their exponent recorded, so
//! that a resumed fit is bitwise the uninterrupted one) and the losses
//! scaled back, as the model.

use std::borrow::Cow;
use std::ops::{ControlFlow, Range};
use std::path::{Path, PathBuf};
use std::time::Instant;

use mpi::collective::SystemOperation;
use mpi::datatype::{Partition, PartitionMut};
use mpi::traits::*;
use mpi::Count;
use topicmill_nmf::steps::{self, Factor, Gram, HalfStep, Spmm};
use topicmill_nmf::{Init, Loss, NmfError, NmfModel, NmfParams, Progress, StopReason};
use topicmill_sparse::{CsrView, Manifest, MappedRows};

use crate::checkpoint::{self, Checkpoint, Meta};
use crate::error::{DistError, Result};
use crate::partition::{row_partition, term_block_rows};

/// How often the tolerance is checked, as in topicmill-nmf (every 10 iterations).
const CHECK_EVERY: usize = 10;

/// Checkpointing and resuming.
#[derive(Clone, Debug, Default)]
pub struct DistOptions {
    /// Where checkpoints are written (and read from with `resume`).
    pub checkpoint: Option<PathBuf>,
    /// Write a checkpoint after every this many iterations (0: never).
    pub checkpoint_every: usize,
    /// Start from the checkpoint instead of the initialization.
    pub resume: bool,
}

/// What a distributed fit returns: the model on rank 0, nothing elsewhere.
#[derive(Debug)]
pub struct DistOutcome {
    /// The fitted model (rank 0 only).
    pub model: Option<NmfModel>,
    /// The iteration the fit started from (0, or the checkpoint's).
    pub resumed_from: usize,
    /// This rank's documents.
    pub rows: Range<usize>,
}

/// All ranks agree on whether every rank succeeded (one collective, so every
/// rank must call it): a rank that failed returns its own error, the others
/// [`DistError::PeerFailed`] naming the ranks that failed. A check that only
/// some ranks make passes `Ok` on the others.
pub fn agree<T, E: From<DistError>, C: Communicator>(
    comm: &C,
    local: std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    let flag = i32::from(local.is_err());
    let mut flags = vec![0i32; comm.size() as usize];
    comm.all_gather_into(&flag, &mut flags[..]);
    let failed: Vec<i32> = (0..comm.size())
        .filter(|&r| flags[r as usize] != 0)
        .collect();
    match local {
        Err(e) => Err(e),
        Ok(_) if !failed.is_empty() => Err(DistError::PeerFailed { ranks: failed }.into()),
        Ok(v) => Ok(v),
    }
}

/// Sum of every rank's `local` (f64), added in rank order on every rank, so
/// the result is bitwise the same everywhere.
fn sum_in_rank_order<C: Communicator>(comm: &C, local: &[f64]) -> Vec<f64> {
    let p = comm.size() as usize;
    let mut all = vec![0f64; p * local.len()];
    comm.all_gather_into(local, &mut all[..]);
    let mut out = vec![0f64; local.len()];
    for part in all.chunks_exact(local.len().max(1)) {
        for (o, v) in out.iter_mut().zip(part) {
            *o += v;
        }
    }
    out
}

/// `values` multiplied by `2^e`, a copy.
fn scaled(values: &[f32], e: i32) -> Vec<f32> {
    let mut v = values.to_vec();
    steps::times_pow2(&mut v, e);
    v
}

fn count(len: usize, what: &str) -> Result<Count> {
    Count::try_from(len).map_err(|_| {
        DistError::TooLarge(format!(
            "{what} holds {len} values, more than one MPI message can (2^31 − 1): use more ranks or a smaller k"
        ))
    })
}

/// `view` with the values `data` (as many as it holds), the same rows.
fn with_values<'a>(view: &'a CsrView<'_>, data: &'a [f32]) -> CsrView<'a> {
    assert_eq!(data.len(), view.data().len(), "one value per stored entry");
    // SAFETY: the structure (shape, row pointers, column indices) is that of
    // `view`, a valid CSR view (checked by `MappedRows::block`), and `data`
    // holds as many values as its.
    unsafe {
        CsrView::new_unchecked(
            view.storage(),
            view.shape(),
            view.indptr().into_raw_storage(),
            view.indices(),
            data,
        )
    }
}

/// Maps the corpus matrix named by `corpus_dir/manifest.json`, checking its
/// header and row pointers only (each rank checks its own rows later).
fn open_matrix(corpus_dir: &Path, rank: i32) -> Result<MappedRows> {
    let opened = Manifest::read(corpus_dir).and_then(|manifest| {
        let rows = MappedRows::open(corpus_dir.join(&manifest.matrix))?;
        manifest.check_matrix(rows.path(), rows.shape(), rows.nnz())?;
        Ok(rows)
    });
    opened.map_err(|source| DistError::Corpus { rank, source })
}

/// Fits X = the corpus in `corpus_dir` over the ranks of `comm`, the same
/// computation as `params.fit` up to the order of floating-point sums (see
/// the crate docs for the tolerance). `progress` is called on rank 0 after
/// every iteration. Rank 0 gets the model (with W of all documents); no rank
/// writes it. Like `fit`, it takes values of any finite magnitude (see the
/// module docs): the fit of X·2^e is the fit of X scaled, bitwise.
///
/// Errors before the first iteration (a rank cannot read its part, bad
/// parameters, a checkpoint that does not fit) are returned on every rank.
/// A rank that dies is the MPI runtime's business: `mpirun` then stops the
/// others.
///
/// ```no_run
/// use topicmill_mpi::{fit_distributed, DistOptions};
/// use topicmill_nmf::Nmf;
///
/// let universe = mpi::initialize().expect("MPI initializes once");
/// let world = universe.world();
/// let params = Nmf::params(20).max_iter(100);
/// let out = fit_distributed(
///     &world,
///     "corpus".as_ref(),
///     &params,
///     &DistOptions::default(),
///     |_| {},
/// )?;
/// if let Some(model) = out.model {
///     println!("error {}", model.reconstruction_err()); // rank 0 only
/// }
/// # Ok::<(), topicmill_mpi::DistError>(())
/// ```
pub fn fit_distributed<C, F>(
    comm: &C,
    corpus_dir: &Path,
    params: &NmfParams,
    opts: &DistOptions,
    mut progress: F,
) -> Result<DistOutcome>
where
    C: Communicator,
    F: FnMut(&Progress),
{
    let start = Instant::now();
    let rank = comm.rank();
    let size = comm.size() as usize;
    let root = comm.process_at_rank(0);
    let k = params.k();
    // The factors of the iterations have `kk` columns, k's and zeros (what
    // the single-process fit runs at: `NmfParams::kernel_k`); W's rows go
    // between ranks, and into checkpoints and the model, at k.
    let kk = params.kernel_k();
    let nmf_err = |source: NmfError| DistError::Nmf { rank, source };

    // Rules every rank checks the same way: no communication needed.
    params.validate().map_err(nmf_err)?;
    if params.get_loss() == Loss::KullbackLeibler {
        return Err(DistError::Unsupported(
            "the distributed fit runs the Frobenius loss (MU and HALS); fit KL on one machine"
                .into(),
        ));
    }
    if opts.resume && opts.checkpoint.is_none() {
        return Err(DistError::Unsupported(
            "resume needs a checkpoint path".into(),
        ));
    }
    if opts.checkpoint_every > 0 && opts.checkpoint.is_none() {
        return Err(DistError::Unsupported(
            "checkpoints every N iterations need a checkpoint path".into(),
        ));
    }

    // Every rank maps the same file; each then touches only the row pointers
    // and its own rows.
    let corpus_err = |source| DistError::Corpus { rank, source };
    let mapped = agree(comm, open_matrix(corpus_dir, rank))?;
    let ((n, m), nnz) = (mapped.shape(), mapped.nnz());
    if n == 0 || m == 0 || nnz == 0 {
        return Err(nmf_err(NmfError::EmptyMatrix {
            rows: n,
            cols: m,
            nnz,
        }));
    }
    if k > n.min(m) {
        return Err(nmf_err(NmfError::TooManyComponents {
            k,
            max: n.min(m),
            rows: n,
            cols: m,
        }));
    }
    let blocks_w = count(n * k, "W")?;
    let b = term_block_rows(m, size);
    count(size * b * kk, "Hᵀ")?;

    let all_rows = row_partition(mapped.indptr(), size);
    let rows = all_rows[rank as usize].clone();
    let xp = agree(
        comm,
        mapped
            .block(rows.clone())
            .and_then(|xp| mapped.check_values(rows.clone()).map(|()| xp))
            .map_err(corpus_err),
    )?;
    // X's largest value: the maximum is exact and order-free, so every rank
    // holds the same and takes the same decisions from it.
    let local_max = xp.data().iter().fold(0f32, |m, &v| m.max(v));
    let mut largest = 0f32;
    comm.all_reduce_into(&local_max, &mut largest, SystemOperation::max());
    // Stored zeros only: no topic to find (as `fit`).
    if largest == 0.0 {
        return Err(nmf_err(NmfError::EmptyMatrix {
            rows: n,
            cols: m,
            nnz,
        }));
    }
    // The iterations run on X·2^s, the factors at 2^half times theirs; s = 0
    // (X as given) for data the float32 engine takes as they are.
    let s = steps::exponent_for(largest as f64);
    let half = s / 2;
    let err_scale = 2f64.powi(-s);
    let scaled_data: Vec<f32>;
    let xs = if s == 0 {
        xp.view()
    } else {
        scaled_data = scaled(xp.data(), s);
        with_values(&xp, &scaled_data)
    };
    let xpt = topicmill_sparse::transpose(xs.view());
    let xpt_view = xpt.view();
    let np = rows.len();

    let local_sq: f64 = xs.data().iter().map(|&v| v as f64 * v as f64).sum();
    let local_sum: f64 = xs.data().iter().map(|&v| v as f64).sum();
    let totals = sum_in_rank_order(comm, &[local_sq, local_sum]);
    let (xnorm2, xsum) = (totals[0], totals[1]);

    // Rows of W of every rank, for scatter / gather.
    let w_counts: Vec<Count> = all_rows.iter().map(|r| (r.len() * k) as Count).collect();
    let w_displs: Vec<Count> = all_rows.iter().map(|r| (r.start * k) as Count).collect();
    debug_assert_eq!(w_counts.iter().sum::<Count>(), blocks_w);

    // Rank 0 writes the checkpoints: it finds out now, not after the first
    // N iterations, whether it can.
    if opts.checkpoint_every > 0 {
        let path = opts.checkpoint.as_deref().expect("checked above");
        let probe = if rank == 0 {
            checkpoint::probe(path).map_err(|message| DistError::Checkpoint {
                rank,
                path: path.to_path_buf(),
                message,
            })
        } else {
            Ok(())
        };
        agree(comm, probe)?;
    }

    // Initial state: a checkpoint, or the initialization.
    let mut resumed: Option<Meta> = None;
    let (w, ht) = if opts.resume {
        let path = opts.checkpoint.as_deref().expect("checked above");
        let loaded = (|| {
            let mut c = Checkpoint::open(path)?;
            if rank == 0 {
                c.verify()?;
            }
            let meta = &c.meta;
            let same_params = meta.params.clone().max_iter(params.get_max_iter())
                .time_budget(params.get_time_budget())
                == *params;
            if (meta.n, meta.m, meta.nnz) != (n, m, nnz) {
                return Err(format!(
                    "was written for a {} × {} matrix with {} non-zeros, this corpus is {n} × {m} with {nnz}",
                    meta.n, meta.m, meta.nnz
                ));
            }
            if !same_params {
                return Err("was written with other parameters (k, solver, init, tol, seed or regularization)".into());
            }
            let mut w = c.w_rows(&rows)?;
            let mut ht = c.ht()?;
            // At this fit's scale (the checkpoint's own when it was written
            // for these data: nothing changes).
            steps::times_pow2(&mut w, half - c.meta.scale);
            steps::times_pow2(&mut ht, half - c.meta.scale);
            Ok((c.meta.clone(), w, ht))
        })()
        .map_err(|message| DistError::Checkpoint {
            rank,
            path: path.to_path_buf(),
            message,
        });
        let (meta, w, ht) = agree(comm, loaded)?;
        resumed = Some(meta);
        (w, ht)
    } else if params.get_init() == Init::Random {
        agree(
            comm,
            params
                .random_factors(n, m, xsum, rows.clone())
                .map_err(nmf_err),
        )?
    } else {
        // NNDSVD needs a truncated SVD of the whole matrix: rank 0 reads all
        // of it and computes it (topicmill-nmf's own initialization), then sends.
        let full_init = if rank == 0 {
            mapped
                .block(0..n)
                .map_err(corpus_err)
                .and_then(|full| {
                    let data;
                    let full = if s == 0 {
                        full
                    } else {
                        data = scaled(full.data(), s);
                        with_values(&full, &data)
                    };
                    params.initial_factors(&full, None).map_err(nmf_err)
                })
                .map(Some)
        } else {
            Ok(None)
        };
        let full_init = agree(comm, full_init)?;
        let mut ht = vec![0f32; m * k];
        let mut w = vec![0f32; np * k];
        if let Some((w_all, ht_all)) = full_init {
            ht.copy_from_slice(&ht_all);
            let part = Partition::new(&w_all[..], &w_counts[..], &w_displs[..]);
            root.scatter_varcount_into_root(&part, &mut w[..]);
        } else {
            root.scatter_varcount_into(&mut w[..]);
        }
        root.broadcast_into(&mut ht[..]);
        (w, ht)
    };

    // Both factors at kk columns; Hᵀ padded to size · b rows (the padding
    // stays zero).
    let mut w = steps::pad_columns(w, k, kk);
    let mut ht_pad = vec![0f32; size * b * kk];
    ht_pad[..m * kk].copy_from_slice(&steps::pad_columns(ht, k, kk));
    let own = rank as usize * b * kk..(rank as usize + 1) * b * kk;
    let mut n_w = vec![0f32; np * kk];
    let mut nh_all = vec![0f32; size * b * kk];
    let mut send_h = vec![0f32; b * kk];
    // topicmill-nmf's kernel, on this rank's rows of W and terms of Hᵀ.
    let spmm_w = Spmm::new(&xs, kk);
    let spmm_h = Spmm::new(&xpt_view, kk);
    let mut step_w = HalfStep::new_scaled(params, Factor::W, n, m, &xs, s);
    let mut step_h = HalfStep::for_rows_scaled(params, Factor::H, n, m, b, s);
    let mut gram_w = Gram::new(np, kk);
    let mut gram_h = Gram::new(b, kk);

    let mut s_h = sum_in_rank_order(comm, gram_h.run(&ht_pad[own.clone()]));
    let mut s_w: Vec<f64>;

    let (loss0, mut last_check, mut history, first_it) = match &resumed {
        Some(meta) => (
            meta.loss0,
            meta.last_check,
            meta.history.clone(),
            meta.iteration + 1,
        ),
        None => {
            spmm_w.run(&ht_pad, &mut n_w);
            let mut local = gram_w.run(&w).to_vec();
            local.push(steps::cross(&w, &n_w));
            let total = sum_in_rank_order(comm, &local);
            let l0 =
                steps::frobenius_error(xnorm2, total[kk * kk], &total[..kk * kk], &s_h) * err_scale;
            (l0, l0, vec![(0usize, l0)], 1)
        }
    };
    let resumed_from = first_it - 1;
    let max_iter = params.get_max_iter();
    let tol = params.get_tol();
    let mut stop = StopReason::MaxIter;
    let mut iterations = resumed_from;

    for it in first_it..=max_iter {
        // W-step.
        step_w.update(&xs, &mut w, &ht_pad, &s_h);
        s_w = sum_in_rank_order(comm, gram_w.run(&w));
        // H-step: (XᵀW) summed over ranks, each rank receiving its terms.
        spmm_h.run(&w, &mut nh_all[..m * kk]);
        comm.reduce_scatter_block_into(&nh_all[..], step_h.n_mut(), SystemOperation::sum());
        let dot_h = step_h.apply(&mut ht_pad[own.clone()], &s_w);
        let mut local = gram_h.run(&ht_pad[own.clone()]).to_vec();
        local.push(dot_h);
        let total = sum_in_rank_order(comm, &local);
        s_h.copy_from_slice(&total[..kk * kk]);
        let dot_h = total[kk * kk];
        send_h.copy_from_slice(&ht_pad[own.clone()]);
        comm.all_gather_into(&send_h[..], &mut ht_pad[..]);
        let loss = steps::frobenius_error(xnorm2, dot_h, &s_w, &s_h) * err_scale;

        iterations = it;
        history.push((it, loss));
        if rank == 0 {
            progress(&Progress {
                iteration: it,
                loss: Some(loss),
                elapsed: start.elapsed(),
            });
        }
        let mut flow = ControlFlow::Continue(());
        if it % CHECK_EVERY == 0 {
            if tol > 0.0 && loss0 > 0.0 && (last_check - loss) / loss0 < tol {
                stop = StopReason::Converged;
                flow = ControlFlow::Break(());
            } else {
                last_check = loss;
            }
        }
        if flow.is_continue() {
            if let Some(budget) = params.get_time_budget() {
                // Rank 0's clock decides for everybody.
                let mut over = i32::from(start.elapsed() >= budget);
                root.broadcast_into(&mut over);
                if over != 0 {
                    stop = StopReason::TimeBudget;
                    flow = ControlFlow::Break(());
                }
            }
        }
        if flow.is_break() {
            break;
        }
        if opts.checkpoint_every > 0 && it % opts.checkpoint_every == 0 && it < max_iter {
            let path = opts.checkpoint.as_deref().expect("checked before the fit");
            let meta = Meta {
                n,
                m,
                nnz,
                params: params.clone(),
                scale: half,
                iteration: it,
                loss0,
                last_check,
                history: history.clone(),
            };
            let written = if rank == 0 {
                let mut w_all = vec![0f32; n * k];
                let mut part = PartitionMut::new(&mut w_all[..], &w_counts[..], &w_displs[..]);
                root.gather_varcount_into_root(&*steps::unpad_columns(&w, kk, k), &mut part);
                let ht = steps::unpad_columns(&ht_pad[..m * kk], kk, k);
                checkpoint::write(path, &meta, &w_all, &ht).map_err(|message| {
                    DistError::Checkpoint {
                        rank,
                        path: path.to_path_buf(),
                        message,
                    }
                })
            } else {
                root.gather_varcount_into(&*steps::unpad_columns(&w, kk, k));
                Ok(())
            };
            agree(comm, written)?;
        }
    }

    // Final W: the row-separable solve with H fixed, at X's data exponent:
    // exactly what the single-process fit (and `NmfModel::transform` of all
    // of X) computes per row.
    let mut ht_final = steps::unpad_columns(&ht_pad[..m * kk], kk, k).into_owned();
    steps::times_pow2(&mut ht_final, -half);
    let w_final = agree(
        comm,
        steps::final_w(params, &xp, &ht_final, s).map_err(nmf_err),
    )?;
    // The error of (W, H) on the data of the iterations, W at their scale.
    spmm_w.run(&ht_pad, &mut n_w);
    let w_final_kk: Cow<'_, [f32]> = if kk == k && half == 0 {
        Cow::Borrowed(&w_final)
    } else {
        let mut v = steps::pad_columns(w_final.clone(), k, kk);
        steps::times_pow2(&mut v, half);
        Cow::Owned(v)
    };
    let mut local = gram_w.run(&w_final_kk).to_vec();
    local.push(steps::cross(&w_final_kk, &n_w));
    drop(w_final_kk);
    let total = sum_in_rank_order(comm, &local);
    let err = steps::frobenius_error(xnorm2, total[kk * kk], &total[..kk * kk], &s_h) * err_scale;
    w.clear();
    // H and the errors are the same on every rank: so is the verdict.
    // The last guard, `fit`'s (W is checked by `steps::final_w`).
    steps::check_finite(&[], &ht_final, k, &history, err).map_err(nmf_err)?;

    let model = if rank == 0 {
        let mut w_all = vec![0f32; n * k];
        let mut part = PartitionMut::new(&mut w_all[..], &w_counts[..], &w_displs[..]);
        root.gather_varcount_into_root(&w_final[..], &mut part);
        Some(
            NmfModel::from_parts(
                params.clone(),
                n,
                m,
                w_all,
                ht_final,
                history,
                iterations,
                stop,
                err,
            )
            .map_err(nmf_err)?,
        )
    } else {
        root.gather_varcount_into(&w_final[..]);
        None
    };
    Ok(DistOutcome {
        model,
        resumed_from,
        rows,
    })
}
