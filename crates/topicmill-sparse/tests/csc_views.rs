//! A `CsrView` can hold column-major (CSC) storage, which `transpose_view()`
//! makes (QA defect 1). Read as CSR its arrays are another matrix, or out of
//! bounds: every entry point that takes a view either refuses one with
//! `SparseError::NotCsr` before writing anything, or, where the answer is a
//! mere reinterpretation of the arrays (`transpose`, `write_transpose`),
//! gives the right one.

use std::fs;
use std::path::Path;

use topicmill_sparse::{
    require_csr, row_blocks, transpose, write_corpus, write_docword, write_matrix, write_mtx,
    write_mtx_to, write_transpose, write_transpose_buffered, CsrMatrix, MappedMatrix, SparseError,
};

/// 2 × 3: [[1, 0, 2], [0, 3, 0]], the QA's X.
fn x() -> CsrMatrix {
    CsrMatrix::new((2, 3), vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0])
}

/// Xᵀ, 3 × 2, in CSR, written out by hand: [[1, 0], [0, 3], [2, 0]].
fn xt() -> CsrMatrix {
    CsrMatrix::new((3, 2), vec![0, 1, 2, 3], vec![0, 1, 0], vec![1.0, 3.0, 2.0])
}

fn dense(m: &CsrMatrix) -> Vec<Vec<f32>> {
    let mut d = vec![vec![0.0; m.cols()]; m.rows()];
    for (v, (r, c)) in m.iter() {
        d[r as usize][c as usize] = *v;
    }
    d
}

fn empty(dir: &Path) -> bool {
    fs::read_dir(dir).unwrap().next().is_none()
}

fn assert_not_csr(err: SparseError, path: &Path) {
    assert!(matches!(err, SparseError::NotCsr { .. }), "{err:?}");
    assert_eq!(err.path(), path);
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: ", path.display())) && msg.contains("column-major (CSC)"),
        "{msg}"
    );
}

/// The writers refuse a CSC view, tall or wide, before making any file:
/// the old code wrote another matrix (write_matrix: a 3 × 3 file), a header
/// promising more entries than follow (write_mtx), or panicked.
#[test]
fn writers_refuse_a_column_major_view() {
    let (x, xt) = (x(), xt());
    let dir = tempfile::tempdir().unwrap();
    // Tall: Xᵀ stored as X's columns. Wide: X stored as Xᵀ's columns.
    for csc in [x.transpose_view(), xt.transpose_view()] {
        assert!(csc.is_csc());
        let path = dir.path().join("m.csr");
        assert_not_csr(write_matrix(&path, csc).unwrap_err(), &path);
        let path = dir.path().join("m.mtx");
        assert_not_csr(write_mtx(&path, csc).unwrap_err(), &path);
        let path = dir.path().join("docword.m.txt");
        assert_not_csr(write_docword(&path, csc).unwrap_err(), &path);
        let path = dir.path().join("corpus");
        let (vocab, ids) = (["a", "b", "c"], ["d1", "d2", "d3"]);
        let err = write_corpus(
            &path,
            csc,
            &vocab[..csc.cols()],
            &ids[..csc.rows()],
            None,
            serde_json::Value::Null,
        )
        .unwrap_err();
        assert_not_csr(err, &path);
        assert!(empty(dir.path()), "a write left something");

        let mut out = Vec::new();
        let err = write_mtx_to(&mut out, csc).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("column-major (CSC)"), "{err}");
        assert!(out.is_empty());

        let err = require_csr(&csc, Path::new("p"), "the matrix").unwrap_err();
        assert_eq!(
            err.to_string(),
            "p: the matrix is a column-major (CSC) view, e.g. from transpose_view(); \
             a CSR view is required (convert it with to_csr())"
        );
    }
    require_csr(&x.view(), Path::new("p"), "the matrix").unwrap();
}

/// A CSC view of A holds Aᵀ's CSR arrays: transposing it is copying them
/// (in memory) or writing them (to a file). The old code panicked on the
/// tall one and wrote a file MappedMatrix::open rejects for the wide one.
#[test]
fn transposing_a_column_major_view_is_right() {
    let (x, xt) = (x(), xt());
    let dir = tempfile::tempdir().unwrap();
    for (csc, expected) in [(x.transpose_view(), &x), (xt.transpose_view(), &xt)] {
        // csc is expectedᵀ stored by columns; its transpose is `expected`.
        let t = transpose(csc);
        assert!(t.is_csr());
        assert_eq!(dense(&t), dense(expected));
        for buffer in [8, 1 << 20] {
            let path = dir.path().join(format!("t{buffer}.csr"));
            let summary = write_transpose_buffered(&path, csc, buffer).unwrap();
            assert_eq!(
                (summary.nrows, summary.ncols, summary.nnz),
                (expected.rows() as u64, expected.cols() as u64, 3)
            );
            let mapped = MappedMatrix::open(&path).unwrap();
            mapped.verify().unwrap();
            assert_eq!(mapped.view(), expected.view());
        }
        let path = dir.path().join("t.csr");
        write_transpose(&path, csc).unwrap();
        assert_eq!(MappedMatrix::open(&path).unwrap().view(), expected.view());
    }
    // A slice of a CSC view (its row pointers do not start at 0).
    let wide = CsrMatrix::new(
        (3, 4),
        vec![0, 2, 3, 4],
        vec![0, 2, 1, 3],
        vec![1.0, 2.0, 3.0, 4.0],
    );
    let t = transpose(wide.view());
    let csc = t.transpose_view(); // `wide`, stored by columns
    let part = csc.slice_outer(1..3); // columns 1 and 2 of `wide`
    assert!(part.is_csc());
    assert_eq!(
        dense(&transpose(part)),
        vec![vec![0.0, 3.0, 0.0], vec![2.0, 0.0, 0.0]]
    );
}

/// Row blocks borrow the rows' storage: of a CSC view there are none to
/// borrow, a documented panic (the old code returned blocks of columns).
#[test]
#[should_panic(expected = "row_blocks: the matrix is a column-major (CSC) view")]
fn row_blocks_of_a_column_major_view_panic() {
    let x = x();
    let _ = row_blocks(x.transpose_view(), 1);
}
