//! `GetAuthorizationToken`: a login password for `docker login --username AWS` (what
//! `aws ecr get-login-password` prints).

use base64::Engine as _;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::AwsError;
use super::input::{Input, check_registry_id};

pub async fn get_authorization_token(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    // `registryIds` (deprecated by AWS, still in the model): 1 to 10 ids, each must be this registry.
    let mut count = 1;
    if let Some(ids) = input.opt_list("registryIds")? {
        if ids.is_empty() || ids.len() > 10 {
            return Err(AwsError::invalid(
                "Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must have length between 1 and 10'",
            ));
        }
        for id in ids {
            let id = id.as_str().ok_or_else(|| AwsError::invalid("registryIds must be a list of strings"))?;
            check_registry_id("registryIds", id, ctx.registry_id())?;
        }
        count = ids.len();
    }
    let (password, expires_at) = ctx.app.identity.login_password(&ctx.authorized, &ctx.caller).await?;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", password.expose()));
    let scheme = if ctx.app.tls { "https" } else { "http" };
    let data = json!({
        "authorizationToken": token,
        "expiresAt": expires_at,
        "proxyEndpoint": format!("{scheme}://{}", ctx.host),
    });
    Ok(json!({"authorizationData": vec![data; count]}))
}
