//! Context for errors that may already name their path.
//!
//! The library crates' errors about a file mostly start with its path
//! (`P: line 3: …`); a context naming it again printed it twice
//! (`reading P: P: line 3: …`).

use std::fmt::Display;
use std::path::Path;

/// [`anyhow::Context`] that adds `what` (which names `path`) only when the
/// error (its outermost message) does not already start with `path`.
pub(crate) trait PathContext<T> {
    fn path_context<W: Display + Send + Sync + 'static>(
        self,
        path: &Path,
        what: impl FnOnce() -> W,
    ) -> anyhow::Result<T>;
}

impl<T, E> PathContext<T> for Result<T, E>
where
    E: Into<anyhow::Error> + Display,
{
    fn path_context<W: Display + Send + Sync + 'static>(
        self,
        path: &Path,
        what: impl FnOnce() -> W,
    ) -> anyhow::Result<T> {
        self.map_err(|err| {
            let names_it = err.to_string().starts_with(&path.display().to_string());
            let err: anyhow::Error = err.into();
            if names_it {
                err
            } else {
                err.context(what())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(r: anyhow::Result<()>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn the_path_is_named_once() {
        let p = Path::new("dir/a.jsonl");
        let about = |t: &str| Err::<(), _>(std::io::Error::other(t.to_string()));
        assert_eq!(
            shown(
                about("dir/a.jsonl: line 2: duplicate id")
                    .path_context(p, || "reading dir/a.jsonl")
            ),
            "dir/a.jsonl: line 2: duplicate id"
        );
        assert_eq!(
            shown(about("empty vocabulary").path_context(p, || "reading dir/a.jsonl")),
            "reading dir/a.jsonl: empty vocabulary"
        );
    }
}
