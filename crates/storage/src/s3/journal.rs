//! The repository journal as objects, in the filesystem backend's format (see [`super::layout`]). Each entry
//! is one object, written by a single PUT (S3 makes it visible whole) or removed by a DELETE; a batch is
//! durable when [`apply`] returns because every request was acknowledged.

use std::collections::BTreeSet;

use berth_oci::{Digest, RepositoryName, Tag};
use object_store::{ObjectStoreExt as _, PutPayload};

use super::S3BlobStore;
use super::layout::{MANIFESTS, TAGS};
use crate::{JournalUpdate, JournaledManifest, JournaledRepository, Result};

pub(super) async fn apply(store: &S3BlobStore, updates: Vec<JournalUpdate>) -> Result<()> {
    for update in updates {
        let (path, content) = match update {
            JournalUpdate::Manifest { repository, digest, current } => {
                let content = current.map(|(media_type, bytes)| {
                    let mut content = Vec::with_capacity(media_type.len() + 1 + bytes.len());
                    content.extend_from_slice(media_type.as_bytes());
                    content.push(b'\n');
                    content.extend_from_slice(&bytes);
                    content
                });
                (store.layout.journal_manifest(&repository, &digest), content)
            }
            JournalUpdate::Tag { repository, tag, target } => {
                (store.layout.journal_tag(&repository, &tag), target.map(|d| format!("{d}\n").into_bytes()))
            }
        };
        match content {
            Some(content) => {
                store.s3.put(&path, PutPayload::from(content)).await.map_err(super::s3_error)?;
            }
            None => store.delete_quietly(&path).await?,
        }
    }
    Ok(())
}

/// Repositories with at least one manifest or tag entry, in lexical order.
pub(super) async fn repositories(store: &S3BlobStore) -> Result<Vec<RepositoryName>> {
    let mut found = BTreeSet::new();
    for path in store.list_keys(&store.layout.journal()).await? {
        let Some(rest) = store.layout.strip(path.as_ref(), "repositories/") else { continue };
        let components: Vec<&str> = rest.split('/').collect();
        if let Some(at) = components.iter().position(|c| *c == MANIFESTS || *c == TAGS)
            && at > 0
            && let Ok(repo) = components[..at].join("/").parse::<RepositoryName>()
        {
            found.insert(repo);
        }
    }
    Ok(found.into_iter().collect())
}

/// The journal of `repo`, every manifest checked against its digest.
pub(super) async fn read(store: &S3BlobStore, repo: &RepositoryName) -> Result<JournaledRepository> {
    let mut out = JournaledRepository::default();
    let manifests = store.layout.journal_section(repo, MANIFESTS);
    let under = format!("repositories/{repo}/{MANIFESTS}/");
    for path in store.list_keys(&manifests).await? {
        let key = path.as_ref();
        let Some(name) = store.layout.strip(key, &under) else { continue };
        let Some(digest) = name.split_once('/').and_then(|(alg, hex)| format!("{alg}:{hex}").parse::<Digest>().ok())
        else {
            out.unreadable.push(format!("{key}: not a manifest digest"));
            continue;
        };
        let Some(bytes) = store.get_bytes(&path).await? else { continue };
        match split_manifest(&bytes) {
            Some((media_type, content)) if Digest::compute(digest.algorithm(), content) == digest => {
                out.manifests.push(JournaledManifest {
                    digest,
                    media_type: media_type.to_string(),
                    content: content.to_vec(),
                });
            }
            _ => out.unreadable.push(format!("{key}: the bytes do not match the digest")),
        }
    }
    out.manifests.sort_by(|a, b| a.digest.cmp(&b.digest));
    let tags = store.layout.journal_section(repo, TAGS);
    let under = format!("repositories/{repo}/{TAGS}/");
    for path in store.list_keys(&tags).await? {
        let key = path.as_ref();
        let Some(Ok(tag)) = store.layout.strip(key, &under).map(str::parse::<Tag>) else {
            out.unreadable.push(format!("{key}: not a tag"));
            continue;
        };
        let Some(bytes) = store.get_bytes(&path).await? else { continue };
        match std::str::from_utf8(&bytes).ok().and_then(|t| t.trim().parse::<Digest>().ok()) {
            Some(digest) => out.tags.push((tag, digest)),
            None => out.unreadable.push(format!("{key}: does not hold a digest")),
        }
    }
    out.tags.sort();
    Ok(out)
}

/// Splits a manifest entry into its media type and bytes.
fn split_manifest(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let media_type = std::str::from_utf8(&bytes[..newline]).ok()?;
    Some((media_type, &bytes[newline + 1..]))
}
