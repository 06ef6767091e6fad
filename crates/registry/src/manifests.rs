//! Pushing, pulling and deleting manifests; tags, the catalog and the referrers API.

use berth_meta::settings::ImageDeletion;
use berth_meta::{NewManifest, Page, StoredManifest, Untagging};
use berth_oci::media_type::OCI_INDEX;
use berth_oci::{Digest, ParsedManifest, Reference, RepositoryName, Tag};
use serde_json::{Value, json};

use crate::events::{DeleteCause, Event};
use crate::{Registry, RegistryError, Result};

/// What a successful manifest push reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    pub digest: Digest,
    /// The manifest's `subject`, answered as `OCI-Subject` so clients know referrers are supported.
    pub subject: Option<Digest>,
}

/// One page of a listing, and whether more entries follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPage {
    pub entries: Vec<String>,
    pub more: bool,
}

/// Why a manifest is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestRead<'a> {
    /// A client takes the manifest (`GET`, `BatchGetImage`): pull policy applies, an archived image is
    /// refused, the pull is recorded. `by` is the principal's label (`user/NAME`, `robot/NAME`; `None`
    /// when anonymous): a principal with a pull time update exclusion leaves `last_pulled_at` alone.
    Pull { by: Option<&'a str> },
    /// A client asks whether it exists (`HEAD`): pull policy applies, an archived image is refused, nothing
    /// is recorded.
    Head,
    /// berth looks at it on the way to something else (describing, deleting, checking a put).
    Inspect,
}

impl Registry {
    /// Stores a manifest pushed to `reference`, also pointing `extra_tags` (from `?tag=`) at it.
    pub async fn put_manifest(
        &self,
        repo: &RepositoryName,
        reference: &Reference,
        extra_tags: &[Tag],
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<PushedManifest> {
        let limit = self.limits.max_manifest_bytes;
        if body.len() > limit {
            return Err(RegistryError::ManifestTooLarge { limit });
        }
        let parsed = ParsedManifest::parse(&body, content_type)?;
        let mut tags: Vec<Tag> = extra_tags.to_vec();
        let digest = match reference {
            Reference::Digest(expected) => {
                let actual = Digest::compute(expected.algorithm(), &body);
                if &actual != expected {
                    return Err(RegistryError::DigestInvalid(format!(
                        "manifest has digest {actual}, not the {expected} it was pushed to"
                    )));
                }
                actual
            }
            Reference::Tag(tag) => {
                tags.push(tag.clone());
                Digest::sha256_of(&body)
            }
        };
        let platforms = parsed.kind.is_index().then(|| {
            Value::Array(
                parsed.manifests.iter().map(|m| serde_json::to_value(&m.platform).unwrap_or(Value::Null)).collect(),
            )
            .to_string()
        });
        let record = NewManifest {
            repository: repo.clone(),
            digest: digest.clone(),
            media_type: parsed.kind.media_type().to_string(),
            artifact_type: parsed.artifact_type.clone(),
            subject: parsed.subject.as_ref().map(|s| s.digest.clone()),
            annotations: parsed.annotations.as_ref().map(|a| json!(a).to_string()),
            config_digest: parsed.config.as_ref().map(|c| c.digest.clone()),
            blobs: parsed.referenced_blobs().map(|d| d.digest.clone()).collect(),
            children: parsed.manifests.iter().map(|d| d.digest.clone()).collect(),
            platforms,
            pushed_at: self.now(),
            content: body,
        };
        self.create_on_push(repo).await?;
        let moved_from = self.tag_targets_before_push(repo, &tags, &digest).await;
        self.meta.put_manifest(&record, &tags).await?;
        self.scan_on_push(repo, &digest, &parsed).await;
        self.publish_push(repo, &digest, &record.media_type, &tags, moved_from).await;
        Ok(PushedManifest { digest, subject: record.subject })
    }

    /// A manifest by tag or digest, read for `purpose`: a client's pull or `HEAD` is refused while the
    /// image is archived (`ImageArchived`) and is subject to the repository's pull policy (whatever the
    /// surface: `/v2`, `BatchGetImage`), and a pull is recorded.
    pub async fn get_manifest(
        &self,
        repo: &RepositoryName,
        reference: &Reference,
        purpose: ManifestRead<'_>,
    ) -> Result<StoredManifest> {
        let m = self
            .meta
            .get_manifest(repo, reference)
            .await?
            .ok_or_else(|| RegistryError::ManifestUnknown(reference.to_string()))?;
        if purpose != ManifestRead::Inspect {
            if !m.status.is_active() {
                return Err(RegistryError::ImageArchived {
                    repository: repo.clone(),
                    digest: m.digest,
                    status: m.status.as_str(),
                });
            }
            self.check_pull_policy(repo, &m.digest).await?;
            self.check_signature_requirement(repo, &m).await?;
        }
        if let ManifestRead::Pull { by } = purpose {
            self.pulls.record_pull(repo, &m.digest, by, self.now(), m.content.len() as u64);
            self.publish_pull(repo.as_str(), &m.digest, by).await;
        }
        Ok(m)
    }

    /// Deleting by digest removes the manifest and its tags; deleting by tag removes only the tag.
    pub async fn delete_manifest(&self, repo: &RepositoryName, reference: &Reference) -> Result<()> {
        let existed = match reference {
            Reference::Digest(d) => {
                let tags = self.tags_before_delete(repo, d).await;
                let deleted = self.remove_image(repo, d, false).await? == ImageDeletion::Deleted;
                if deleted {
                    self.publish_deleted(repo, d, tags, DeleteCause::Request).await;
                }
                deleted
            }
            Reference::Tag(t) => {
                let untagging = self.meta.untag_image(repo, t, false).await?;
                self.publish_untagged(repo, t, &untagging).await;
                untagging != Untagging::NotFound
            }
        };
        if existed { Ok(()) } else { Err(RegistryError::ManifestUnknown(reference.to_string())) }
    }

    /// Removes `tag` from `repo`. With `delete_if_last` (ECR's `BatchDeleteImage` by tag), removing the last
    /// tag of a manifest deletes the manifest too, in the same transaction, unless an index of the repository
    /// lists it (then nothing changes). `/v2` deletes by tag only untag ([`Registry::delete_manifest`]).
    pub async fn untag_image(&self, repo: &RepositoryName, tag: &Tag, delete_if_last: bool) -> Result<Untagging> {
        let untagging = if delete_if_last {
            self.remove_tag_and_last_image(repo, tag).await?
        } else {
            self.meta.untag_image(repo, tag, false).await?
        };
        if let Untagging::Deleted(d) = &untagging {
            self.publish_deleted(repo, d, vec![tag.to_string()], DeleteCause::Request).await;
        }
        self.publish_untagged(repo, tag, &untagging).await;
        Ok(untagging)
    }

    /// The media type the manifests of `repo` that reference the blob `digest` give it (a layer's or a
    /// config's); `None` when no manifest references it yet (a layer uploaded before its manifest).
    pub async fn blob_media_type(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<String>> {
        for manifest in self.meta.manifests_with_blob(repo, digest, 4).await? {
            let Some(stored) = self.meta.get_manifest(repo, &Reference::Digest(manifest)).await? else {
                continue;
            };
            let Ok(parsed) = ParsedManifest::parse(&stored.content, Some(&stored.media_type)) else {
                continue;
            };
            if let Some(d) = parsed.referenced_blobs().find(|d| &d.digest == digest) {
                return Ok(Some(d.media_type.clone()));
            }
        }
        Ok(None)
    }

    /// Tags of `repo`, `n` at most (all when `None`), after `last`.
    pub async fn list_tags(&self, repo: &RepositoryName, n: Option<u32>, last: Option<&str>) -> Result<TagPage> {
        let want = n.unwrap_or(u32::MAX);
        let mut entries = self
            .meta
            .list_tags(repo, Page { last, n: want.saturating_add(1) })
            .await?
            .ok_or(RegistryError::NameUnknown)?;
        Ok(page(&mut entries, want))
    }

    /// Repository names, `n` at most (the configured default when `None`), after `last`.
    pub async fn catalog(&self, n: Option<u32>, last: Option<&str>) -> Result<TagPage> {
        let want = n.unwrap_or(self.limits.default_catalog_page);
        let names = self.meta.list_repositories(Page { last, n: want.saturating_add(1) }).await?;
        let mut entries: Vec<String> = names.into_iter().map(|n| n.to_string()).collect();
        Ok(page(&mut entries, want))
    }

    /// The referrers of `subject` as an OCI image index (the body of the referrers API).
    /// The manifests of `repo` whose `subject` is `subject` (with `artifact_type` when given).
    pub async fn referrer_list(
        &self,
        repo: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<berth_meta::Referrer>> {
        Ok(self.meta.list_referrers(repo, subject, artifact_type).await?)
    }

    pub async fn referrers(
        &self,
        repo: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<u8>> {
        let referrers = self.referrer_list(repo, subject, artifact_type).await?;
        let manifests: Vec<Value> = referrers
            .into_iter()
            .map(|r| {
                let mut d = json!({"mediaType": r.media_type, "digest": r.digest, "size": r.size});
                if let Some(t) = r.artifact_type {
                    d["artifactType"] = json!(t);
                }
                if let Some(a) = r.annotations.and_then(|a| serde_json::from_str::<Value>(&a).ok()) {
                    d["annotations"] = a;
                }
                d
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        Ok(serde_json::to_vec(&index).unwrap_or_default())
    }
}

fn page(entries: &mut Vec<String>, want: u32) -> TagPage {
    let more = entries.len() > want as usize;
    entries.truncate(want as usize);
    TagPage { entries: std::mem::take(entries), more }
}

/// Events of manifest pushes and deletions.
impl Registry {
    /// Where each of `tags` points before a push points them at `digest` (only those pointing elsewhere),
    /// read when some subscription wants `tag.move` events here. Read outside the push's transaction: under
    /// concurrent pushes of one tag the event may name an earlier target than the one replaced.
    async fn tag_targets_before_push(
        &self,
        repo: &RepositoryName,
        tags: &[Tag],
        digest: &Digest,
    ) -> Vec<(Tag, Digest)> {
        if tags.is_empty() || !self.wants_event("tag.move", repo.as_str()).await {
            return Vec::new();
        }
        let mut moved = Vec::new();
        for tag in tags {
            if let Ok(Some(m)) = self.meta.get_manifest(repo, &Reference::Tag(tag.clone())).await
                && &m.digest != digest
            {
                moved.push((tag.clone(), m.digest));
            }
        }
        moved
    }

    async fn publish_push(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        media_type: &str,
        tags: &[Tag],
        moved_from: Vec<(Tag, Digest)>,
    ) {
        let mut tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        tags.dedup();
        let repository = repo.to_string();
        self.publish(Event::ImagePushed {
            repository: repository.clone(),
            digest: digest.clone(),
            media_type: media_type.to_string(),
            tags,
        })
        .await;
        for (tag, from) in moved_from {
            self.publish(Event::TagMoved {
                repository: repository.clone(),
                tag: tag.to_string(),
                from,
                to: digest.clone(),
            })
            .await;
        }
    }

    /// The tags of the image `digest` about to be deleted, for its `image.delete` event (read only when some
    /// subscription wants it; read before the delete's transaction, so a tag moved meanwhile may be named).
    pub(crate) async fn tags_before_delete(&self, repo: &RepositoryName, digest: &Digest) -> Vec<String> {
        if !self.wants_event("image.delete", repo.as_str()).await {
            return Vec::new();
        }
        match self.meta.image_detail(repo, digest).await {
            Ok(Some(detail)) => detail.tags.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        }
    }

    /// `tag.delete` when `untagging` removed `tag` from an image that stays.
    async fn publish_untagged(&self, repo: &RepositoryName, tag: &Tag, untagging: &Untagging) {
        if let Untagging::Untagged(digest) = untagging {
            let event =
                Event::TagDeleted { repository: repo.to_string(), tag: tag.to_string(), digest: digest.clone() };
            self.publish(event).await;
        }
    }

    pub(crate) async fn publish_deleted(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        tags: Vec<String>,
        cause: DeleteCause,
    ) {
        self.publish(Event::ImageDeleted { repository: repo.to_string(), digest: digest.clone(), tags, cause }).await;
    }
}
