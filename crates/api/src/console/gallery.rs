//! `GET /console/public`: the public gallery. Anyone may read it; it lists public repositories whose tags an
//! anonymous caller may list (`ecr:ListImages`, decided per repository by the engine, so an explicit Deny
//! in a repository's policy hides it), each with its tags and pull command. A private repository never
//! appears: only the public catalog is read.

use axum::http::StatusCode;
use axum::response::Response;
use berth_meta::Page;
use berth_meta::identity::Visibility;
use berth_oci::RepositoryName;
use berth_registry::RegistryError;

use super::route::Listing;
use super::views::{self, GalleryRow};
use super::{Ctx, Failure};

const PAGE: usize = 20;
/// Tags shown per repository.
const TAGS: u32 = 10;

pub async fn page(ctx: &Ctx<'_>, listing: &Listing) -> Result<Response, Failure> {
    let prefix = listing.prefix.as_str();
    let identity = &ctx.app.identity;
    let mut shown: Vec<RepositoryName> = Vec::new();
    let mut cursor = listing.after.as_ref().map(|a| a.to_string());
    if cursor.is_none() && !prefix.is_empty() {
        if let Ok(name) = prefix.parse::<RepositoryName>()
            && identity.visibility(&name).await.map_err(Failure::fault)? == Visibility::Public
        {
            match ctx.app.registry.repository(&name).await {
                Ok(_) if ctx.may("ecr:ListImages", &name).await? => shown.push(name),
                Ok(_) | Err(RegistryError::NameUnknown) => {}
                Err(e) => return Err(Failure::registry(e, &name)),
            }
        }
        cursor = Some(prefix.to_string());
    }
    'pages: loop {
        let want = 100;
        let names =
            identity.public_repositories(Page { last: cursor.as_deref(), n: want }).await.map_err(Failure::fault)?;
        for name in &names {
            if !name.as_str().starts_with(prefix) || shown.len() > PAGE {
                break 'pages;
            }
            if ctx.may("ecr:ListImages", name).await? {
                shown.push(name.clone());
            }
        }
        match names.last() {
            Some(last) if names.len() as u32 == want => cursor = Some(last.to_string()),
            _ => break,
        }
    }
    let next = if shown.len() > PAGE {
        shown.truncate(PAGE);
        shown.last().map(|r| r.to_string())
    } else {
        None
    };
    let mut rows = Vec::with_capacity(shown.len());
    for name in &shown {
        let tags = ctx.app.registry.list_tags(name, Some(TAGS), None).await.map_err(|e| Failure::registry(e, name))?;
        let tag = tags.entries.iter().find(|t| *t == "latest").or(tags.entries.first());
        let pull = match tag {
            Some(t) => format!("docker pull {}/{name}:{t}", ctx.host),
            None => format!("docker pull {}/{name}", ctx.host),
        };
        rows.push(GalleryRow { name: name.to_string(), pull, tags: tags.entries, more_tags: tags.more });
    }
    let page = views::Gallery { chrome: ctx.chrome.clone(), prefix: prefix.into(), rows, next };
    Ok(views::html(StatusCode::OK, &page))
}
