//! [`FileRegion`]: where the bytes of a response body lie on local disk, so that the connection layer can
//! send them with `sendfile(2)` instead of copying them through user space.
//!
//! A handler that streams part of a local file attaches a `FileRegion` as a response extension, beside an
//! ordinary body yielding the same bytes. The layer that owns the socket may replace that body by a zero-copy
//! one when it can (plaintext HTTP/1.1: the kernel moves the bytes from the page cache to the socket); over
//! TLS, HTTP/2, or in-process calls to the router, the ordinary body is sent and the extension is ignored.

use std::fs::File;
use std::sync::Arc;

/// `len` bytes of `file` from `offset`: exactly the bytes of the response body it is attached to.
#[derive(Debug, Clone)]
pub struct FileRegion {
    pub file: Arc<File>,
    pub offset: u64,
    pub len: u64,
}
