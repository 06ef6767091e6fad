//! The repository journal as files (see the crate docs and [`super::layout`]).
//!
//! Writing an entry: the content goes to a temporary file (`.<name>.<pid>.tmp`, a name no entry can have) in
//! the entry's directory, which is flushed and renamed over the entry; removing one unlinks it. Once a batch
//! is applied, every directory it changed is flushed, so the batch is durable when [`apply`] returns. A crash
//! leaves each entry whole or as it was, plus at worst a temporary file, which readers ignore and the next
//! write of that entry replaces.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use berth_oci::{Digest, RepositoryName, Tag};

use super::durable::{create_dir_durable, optional, sync_dir};
use super::layout::{Layout, MANIFESTS, TAGS};
use crate::{JournalUpdate, JournaledManifest, JournaledRepository};

/// Applies `updates` in order; everything is durable on return.
pub(super) fn apply(layout: &Layout, updates: &[JournalUpdate]) -> io::Result<()> {
    let mut touched = BTreeSet::new();
    for update in updates {
        let (path, content) = match update {
            JournalUpdate::Manifest { repository, digest, current } => {
                let content = current.as_ref().map(|(media_type, bytes)| {
                    let mut content = Vec::with_capacity(media_type.len() + 1 + bytes.len());
                    content.extend_from_slice(media_type.as_bytes());
                    content.push(b'\n');
                    content.extend_from_slice(bytes);
                    content
                });
                (layout.journal_manifest(repository, digest), content)
            }
            JournalUpdate::Tag { repository, tag, target } => {
                (layout.journal_tag(repository, tag), target.as_ref().map(|d| format!("{d}\n").into_bytes()))
            }
        };
        let dir = parent(&path)?.to_path_buf();
        match content {
            Some(content) => {
                create_dir_durable(&dir)?;
                write_atomically(&path, &content)?;
            }
            None => {
                if optional(fs::remove_file(&path))?.is_none() {
                    continue;
                }
            }
        }
        touched.insert(dir);
    }
    for dir in touched {
        sync_dir(&dir)?;
    }
    Ok(())
}

fn parent(path: &Path) -> io::Result<&Path> {
    path.parent().ok_or_else(|| io::Error::other("journal path has no parent directory"))
}

/// Writes `content` to a temporary file beside `path`, flushes it, and renames it to `path`.
fn write_atomically(path: &Path, content: &[u8]) -> io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| io::Error::other("bad journal path"))?;
    let tmp = parent(path)?.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(content)?;
        file.sync_data()
    })();
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Repositories with a journal: directories under `repositories/` holding `_manifests` or `_tags`, named by
/// their path.
pub(super) fn repositories(layout: &Layout) -> io::Result<Vec<RepositoryName>> {
    let mut found = Vec::new();
    let mut pending = vec![(layout.journal_dir(), String::new())];
    while let Some((dir, name)) = pending.pop() {
        let mut journaled = false;
        for (child, path) in subdirs(&dir)? {
            if child == MANIFESTS || child == TAGS {
                journaled = true;
            } else if !child.starts_with('_') {
                let nested = if name.is_empty() { child } else { format!("{name}/{child}") };
                pending.push((path, nested));
            }
        }
        if journaled && let Ok(repo) = name.parse() {
            found.push(repo);
        }
    }
    found.sort();
    Ok(found)
}

/// Reads the journal of `repo`, checking every manifest's bytes against its digest.
pub(super) fn read(layout: &Layout, repo: &RepositoryName) -> io::Result<JournaledRepository> {
    let mut out = JournaledRepository::default();
    let manifests = layout.journal_repository(repo).join(MANIFESTS);
    for (algorithm, dir) in subdirs(&manifests)? {
        for (name, path) in files(&dir)? {
            let Ok(digest) = format!("{algorithm}:{name}").parse::<Digest>() else {
                out.unreadable.push(format!("{}: not a manifest digest", path.display()));
                continue;
            };
            let Some(bytes) = optional(fs::read(&path))? else { continue };
            match manifest(&bytes) {
                Some((media_type, content)) if Digest::compute(digest.algorithm(), content) == digest => {
                    out.manifests.push(JournaledManifest {
                        digest,
                        media_type: media_type.to_string(),
                        content: content.to_vec(),
                    });
                }
                _ => out.unreadable.push(format!("{}: the bytes do not match the digest", path.display())),
            }
        }
    }
    out.manifests.sort_by(|a, b| a.digest.cmp(&b.digest));
    for (name, path) in files(&layout.journal_repository(repo).join(TAGS))? {
        let Ok(tag) = name.parse::<Tag>() else {
            out.unreadable.push(format!("{}: not a tag", path.display()));
            continue;
        };
        let Some(text) = optional(fs::read_to_string(&path)).unwrap_or(None) else {
            out.unreadable.push(format!("{}: unreadable", path.display()));
            continue;
        };
        match text.trim().parse::<Digest>() {
            Ok(digest) => out.tags.push((tag, digest)),
            Err(_) => out.unreadable.push(format!("{}: does not hold a digest", path.display())),
        }
    }
    out.tags.sort();
    Ok(out)
}

/// Splits a manifest entry into its media type and bytes.
fn manifest(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let media_type = std::str::from_utf8(&bytes[..newline]).ok()?;
    Some((media_type, &bytes[newline + 1..]))
}

/// Subdirectories of `dir` (none when it does not exist), as (name, path).
fn subdirs(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    entries(dir, |t| t.is_dir())
}

/// Regular files of `dir` except temporary ones, as (name, path).
fn files(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    Ok(entries(dir, |t| t.is_file())?.into_iter().filter(|(name, _)| !name.starts_with('.')).collect())
}

fn entries(dir: &Path, keep: impl Fn(&fs::FileType) -> bool) -> io::Result<Vec<(String, PathBuf)>> {
    let Some(read) = optional(fs::read_dir(dir))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry?;
        let Some(file_type) = optional(entry.file_type())? else { continue };
        if keep(&file_type)
            && let Ok(name) = entry.file_name().into_string()
        {
            out.push((name, entry.path()));
        }
    }
    Ok(out)
}
