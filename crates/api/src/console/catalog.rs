//! `POST /console/repositories/NAME/-/catalog`: the repository's catalog data (what the public gallery
//! shows of it), replaced by the form's (`ecr:PutRepositoryCatalogData`).

use axum::response::Response;
use berth_meta::catalog::CatalogData;
use berth_oci::RepositoryName;

use super::{Ctx, Failure, session};

pub async fn put(ctx: &Ctx<'_>, name: &RepositoryName, data: &CatalogData) -> Result<Response, Failure> {
    let result = ctx.app.registry.put_catalog_data(name, data).await.map(|_| ()).map_err(|e| match e {
        berth_registry::RegistryError::InvalidSetting(m) => Failure::status(axum::http::StatusCode::BAD_REQUEST, m),
        other => Failure::registry(other, name),
    });
    ctx.audit("ecr:PutRepositoryCatalogData", name, result.as_ref().err()).await;
    result?;
    Ok(session::redirect(&format!("/console/repositories/{name}?described=1")))
}
