//! Round trips and invariants on random sparse matrices, checked against a dense
//! reference where one is cheap.

use proptest::prelude::*;
use topicmill_sparse::{
    read_docword, read_mtx, row_blocks, transpose, write_docword, write_matrix, write_mtx,
    write_transpose, CsrMatrix, MappedMatrix,
};

/// A random non-negative dense matrix (about a third of its cells non-zero), and its CSR form.
fn dense_strategy() -> impl Strategy<Value = Vec<Vec<f32>>> {
    (0usize..12, 1usize..12).prop_flat_map(|(r, c)| {
        prop::collection::vec(
            prop::collection::vec(prop_oneof![2 => Just(0.0f32), 1 => 0.0f32..1e6], c),
            r,
        )
    })
}

fn csr(d: &[Vec<f32>], ncols: usize) -> CsrMatrix {
    let mut indptr = vec![0u64];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for row in d {
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 {
                indices.push(j as u32);
                data.push(v);
            }
        }
        indptr.push(indices.len() as u64);
    }
    CsrMatrix::new((d.len(), ncols), indptr, indices, data)
}

fn with_cols(d: &[Vec<f32>]) -> usize {
    d.first().map_or(1, Vec::len)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn file_round_trip_is_identical(d in dense_strategy()) {
        let m = csr(&d, with_cols(&d));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csr");
        let summary = write_matrix(&path, m.view()).unwrap();
        prop_assert_eq!(summary.nnz as usize, m.nnz());
        let mapped = MappedMatrix::open(&path).unwrap();
        mapped.verify().unwrap();
        prop_assert_eq!(mapped.view(), m.view());
        prop_assert_eq!(std::fs::metadata(&path).unwrap().len(), summary.file_len);
    }

    #[test]
    fn transpose_matches_dense_and_is_an_involution(d in dense_strategy()) {
        let ncols = with_cols(&d);
        let m = csr(&d, ncols);
        let t = transpose(m.view());
        prop_assert_eq!(t.shape(), (ncols, d.len()));
        for (i, row) in d.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                prop_assert_eq!(t.get(j, i).copied().unwrap_or(0.0), v);
            }
        }
        prop_assert_eq!(transpose(t.view()), m.clone());

        // The file-backed transpose is the same matrix.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csr");
        write_transpose(&path, m.view()).unwrap();
        let mapped = MappedMatrix::open(&path).unwrap();
        mapped.verify().unwrap();
        prop_assert_eq!(mapped.view(), t.view());
    }

    #[test]
    fn mtx_and_docword_round_trip(d in dense_strategy()) {
        let m = csr(&d, with_cols(&d));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.mtx");
        write_mtx(&path, m.view()).unwrap();
        prop_assert_eq!(read_mtx(&path).unwrap(), m.clone());
        if m.nnz() > 0 {
            // A docword file holds counts: the values rounded up to integers.
            let counts = m.map(|v| v.ceil());
            let path = dir.path().join("docword.m.txt");
            write_docword(&path, counts.view()).unwrap();
            prop_assert_eq!(read_docword(&path).unwrap(), counts);
        }
    }

    #[test]
    fn row_blocks_cover_the_matrix_without_copying(d in dense_strategy(), size in 1usize..5) {
        let m = csr(&d, with_cols(&d));
        let view = m.view();
        let mut next = 0;
        for (rows, block) in row_blocks(view, size) {
            prop_assert_eq!(rows.start, next);
            prop_assert!(rows.len() <= size && !rows.is_empty());
            prop_assert_eq!(block.rows(), rows.len());
            for (k, r) in rows.clone().enumerate() {
                let a = block.outer_view(k).unwrap();
                let b = view.outer_view(r).unwrap();
                prop_assert_eq!(a.indices(), b.indices());
                // Zero copy: the block's entries are the parent's memory.
                prop_assert_eq!(a.data().as_ptr(), b.data().as_ptr());
            }
            next = rows.end;
        }
        prop_assert_eq!(next, m.rows());
    }
}

/// The bytes of a small valid file to corrupt.
fn valid_file_bytes() -> Vec<u8> {
    let m = CsrMatrix::new(
        (3, 5),
        vec![0, 2, 2, 5],
        vec![1, 4, 0, 2, 3],
        vec![1.0, 2.0, 3.0, 4.0, 5.0],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.csr");
    write_matrix(&path, m.view()).unwrap();
    std::fs::read(&path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever bytes are damaged, opening returns a result (never panics), and a
    /// file that opens yields a view that can be walked entirely.
    #[test]
    fn corrupted_files_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = valid_file_bytes();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            let n = cut.index(bytes.len());
            bytes.truncate(n);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csr");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(m) = MappedMatrix::open(&path) {
            let _ = m.verify();
            let view = m.view();
            let mut total = 0usize;
            for (v, (r, c)) in view.iter() {
                prop_assert!((r as usize) < view.rows() && (c as usize) < view.cols());
                total += usize::from(v.is_finite());
            }
            prop_assert!(total <= view.nnz());
        }
    }
}
