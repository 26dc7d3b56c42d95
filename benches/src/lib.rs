//! Shared fixtures for topicmill's criterion benchmarks (see `benches/benches/`).
