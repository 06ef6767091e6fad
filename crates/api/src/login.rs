//! `POST /auth/v1/Login`: a user's password (Basic credentials) exchanged for a new access key of that user,
//! so `berth login` can set up the CLI and the aws CLI from the password `berth serve` printed, without an
//! administrator restarting the server with a key.
//!
//! Only a user's own credentials sign in (not robot tokens, not registry bearer tokens); the key is created
//! through the same decision as the admin API's `CreateAccessKey` on that user (`berth:CreateAccessKey` on
//! the user's ARN: always for the administrator, for others when a policy allows it, e.g. on
//! `arn:aws:iam::ACCOUNT:user/${aws:username}`). Failed sign-ins count towards the login limits. Answers
//! are AWS JSON, as the admin API's.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_identity::{Principal, Required, Target};
use serde_json::json;

use crate::AppState;
use crate::authn::{Presented, audit, caller_of, client_ip, presented};
use crate::aws::errors::{AwsError, ErrorType};

pub async fn login(State(app): State<Arc<AppState>>, req: Request) -> Response {
    let ip = client_ip(&req);
    let headers = req.headers().clone();
    let result = async {
        match presented(&headers) {
            Presented::Basic { .. } => {}
            Presented::None => {
                return Err(AwsError::new(ErrorType::MissingAuthenticationToken, "sign in with Basic credentials"));
            }
            _ => {
                return Err(AwsError::new(
                    ErrorType::InvalidSignature,
                    "sign in with a user's name and password (Basic credentials)",
                ));
            }
        }
        let caller = caller_of(&app, &headers, ip).await.map_err(AwsError::from_admin)?;
        let Principal::User { name, .. } = &caller.principal else {
            return Err(AwsError::new(ErrorType::AccessDenied, "only users sign in; robot tokens cannot own keys"));
        };
        let name = name.clone();
        let required = [Required::new("berth:CreateAccessKey", Target::User(name.clone()))];
        let authorized = crate::access::decide(&app, &caller, ip, &required).await.map_err(AwsError::from_admin)?;
        let created = app.identity.create_access_key(&authorized, &name).await.map_err(AwsError::from_admin);
        let (outcome, status) = if created.is_ok() { ("allowed", 200) } else { ("error", 500) };
        let resource = app.identity.account().user_arn(&name);
        audit(&app, &caller, "berth:Login", &resource, ip, outcome, status).await;
        let (key, secret, user) = created?;
        Ok(json!({"accessKeyId": key, "secretAccessKey": secret.expose(), "userName": user}))
    }
    .await;
    let mut resp = match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    };
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
