//! Decompression with a meter: every decompressed byte is counted, the time limit is checked on every read,
//! and the first failure is recorded so that the error the tar reader sees can be reported for what it is
//! (a limit, a corrupt gzip stream, an I/O failure of the source) rather than as a corrupt archive.

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;
use std::time::Instant;

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use crate::layer::Compression;
use crate::{Limits, ScanError};

/// Bytes the tar reader may consume between two entries (padding, headers, PAX/GNU long-name records, sparse
/// maps). The tar crate buffers extension records whole, so they must be bounded here.
pub(crate) const HEADER_BUDGET: u64 = 1024 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

pub(crate) type SharedMeter = Rc<RefCell<Meter>>;

pub(crate) struct Meter {
    limits: Limits,
    start: Instant,
    total: u64,
    in_header: bool,
    header_bytes: u64,
    /// The first failure seen by any reader in the chain.
    failure: Option<ScanError>,
}

impl Meter {
    pub(crate) fn new(limits: &Limits) -> SharedMeter {
        Rc::new(RefCell::new(Meter {
            limits: *limits,
            start: Instant::now(),
            total: 0,
            in_header: false,
            header_bytes: 0,
            failure: None,
        }))
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The tar reader is about to parse the next header: from now on its reads count against [`HEADER_BUDGET`].
    pub(crate) fn begin_header(&mut self) {
        self.in_header = true;
        self.header_bytes = 0;
    }

    pub(crate) fn end_header(&mut self) {
        self.in_header = false;
    }

    pub(crate) fn header_overrun(&self) -> bool {
        self.header_bytes > HEADER_BUDGET
    }

    pub(crate) fn check_time(&self) -> Result<(), ScanError> {
        if self.start.elapsed() > self.limits.max_duration {
            return Err(ScanError::TimeLimit { limit: self.limits.max_duration });
        }
        Ok(())
    }

    /// Record `err` unless an earlier failure is already recorded.
    fn fail(&mut self, err: ScanError) {
        if self.failure.is_none() {
            self.failure = Some(err);
        }
    }

    pub(crate) fn take_failure(&mut self) -> Option<ScanError> {
        self.failure.take()
    }

    fn count(&mut self, n: usize) -> io::Result<()> {
        self.total += n as u64;
        if self.in_header {
            self.header_bytes += n as u64;
            if self.header_bytes > HEADER_BUDGET {
                // Reported by the caller, which knows the last entry's path.
                return Err(io::Error::other("tar extension header too large"));
            }
        }
        if self.total > self.limits.max_total_bytes {
            self.fail(ScanError::TooLarge { limit: self.limits.max_total_bytes });
            return Err(io::Error::other("decompressed size limit exceeded"));
        }
        if let Err(e) = self.check_time() {
            self.fail(e);
            return Err(io::Error::other("time limit exceeded"));
        }
        Ok(())
    }
}

/// Wraps the blob reader: remembers its I/O errors so they are not mistaken for corrupt data.
struct SourceTap<R> {
    inner: R,
    meter: SharedMeter,
}

impl<R: Read> Read for SourceTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Checked here too: a compressed stream can be long without producing output (e.g. skippable frames).
        let late = self.meter.borrow().check_time();
        if let Err(e) = late {
            self.meter.borrow_mut().fail(e);
            return Err(io::Error::other("time limit exceeded"));
        }
        self.inner.read(buf).inspect_err(|e| {
            self.meter.borrow_mut().fail(ScanError::Io(io::Error::new(e.kind(), e.to_string())));
        })
    }
}

/// Wraps the decompressor: counts output, enforces limits, names decompression errors.
struct DecodedTap<R> {
    inner: R,
    format: &'static str,
    meter: SharedMeter,
}

impl<R: Read> Read for DecodedTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.meter.borrow_mut().count(n)?;
                Ok(n)
            }
            Err(e) => {
                if self.format != "tar" {
                    let message = crate::error::display_path(&e.to_string());
                    self.meter.borrow_mut().fail(ScanError::Decompress { format: self.format, message });
                }
                Err(e)
            }
        }
    }
}

/// Open the decompressed stream of a layer blob. `declared` comes from the media type; magic bytes override
/// it (gzip `1f 8b`, zstd `28 b5 2f fd`, anything else is taken as a plain tar).
pub(crate) fn open<'a, R: Read + 'a>(
    reader: R,
    declared: Compression,
    meter: &SharedMeter,
) -> Result<(Compression, Box<dyn Read + 'a>), ScanError> {
    let mut source = SourceTap { inner: reader, meter: meter.clone() };
    let mut head = [0u8; 4];
    let mut filled = 0;
    while filled < head.len() {
        match source.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(meter.borrow_mut().take_failure().unwrap_or(ScanError::Io(e))),
        }
    }
    let head = &head[..filled];
    let sniffed = if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    };
    if sniffed != declared {
        tracing::debug!(?declared, ?sniffed, "layer compression differs from its media type; using the magic bytes");
    }
    let stream = io::Cursor::new(head.to_vec()).chain(source);
    let (format, inner): (&'static str, Box<dyn Read + 'a>) = match sniffed {
        Compression::Gzip => ("gzip", Box::new(flate2::read::MultiGzDecoder::new(stream))),
        Compression::Zstd => ("zstd", Box::new(ZstdReader::new(BufReader::new(stream)))),
        Compression::None => ("tar", Box::new(stream)),
    };
    Ok((sniffed, Box::new(DecodedTap { inner, format, meter: meter.clone() })))
}

/// Streaming zstd decoder over any number of frames, skipping skippable frames and verifying content checksums.
/// Memory is bounded by the decoder's window limit (ruzstd's default, 128 MiB).
struct ZstdReader<R> {
    source: R,
    decoder: FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> ZstdReader<R> {
    fn new(source: R) -> Self {
        ZstdReader { source, decoder: FrameDecoder::new(), in_frame: false }
    }
}

fn zstd_error(e: FrameDecoderError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl<R: BufRead> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                if self.decoder.can_collect() > 0 {
                    return self.decoder.read(buf);
                }
                if self.decoder.is_finished() {
                    if let (Some(stored), Some(computed)) =
                        (self.decoder.get_checksum_from_data(), self.decoder.get_calculated_checksum())
                        && stored != computed
                    {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, "content checksum mismatch"));
                    }
                    self.in_frame = false;
                    continue;
                }
                self.decoder
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(zstd_error)?;
            } else {
                if self.source.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                match self.decoder.reset(&mut self.source) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                        length, ..
                    })) => {
                        let skipped = io::copy(&mut (&mut self.source).take(u64::from(length)), &mut io::sink())?;
                        if skipped < u64::from(length) {
                            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated skippable frame"));
                        }
                    }
                    Err(e) => return Err(zstd_error(e)),
                }
            }
        }
    }
}
