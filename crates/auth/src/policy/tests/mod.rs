//! Data-driven tests of the whole engine: documents in, decisions and errors out.

mod cases;
mod errors;
mod props;
