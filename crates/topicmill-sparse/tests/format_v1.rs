//! Format version 1 is frozen: a file written by the first release stays in the
//! repository and must keep opening, and today's writer must still produce it
//! byte for byte (a layout change needs a new version number).

use std::path::Path;

use topicmill_sparse::{write_matrix, CsrMatrix, MappedMatrix};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1_3x4.csr");

/// [[1, 0, 2, 0], [0, 3, 0, 0], [0, 0, 0, 4]]
fn sample() -> CsrMatrix {
    CsrMatrix::new(
        (3, 4),
        vec![0, 2, 3, 4],
        vec![0, 2, 1, 3],
        vec![1.0, 2.0, 3.0, 4.0],
    )
}

#[test]
fn version_1_fixture_still_opens_and_verifies() {
    let m = MappedMatrix::open(Path::new(FIXTURE)).unwrap();
    m.verify().unwrap();
    assert_eq!(m.view(), sample().view());
}

#[test]
fn writer_still_produces_version_1_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csr");
    write_matrix(&path, sample().view()).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(FIXTURE).unwrap()
    );
}
