//! The admin API's image signing operations: keys (`CreateSigningKey`, `TrustSigningKey`,
//! `ListSigningKeys`, `DeleteSigningKey`) and signature requirements (`PutSignatureRequirement`,
//! `GetSignatureRequirement`: which keys an image must be signed by to be pulled, for a repository or the
//! whole registry). The signing configuration itself is ECR's (`PutSigningConfiguration`).

use berth_identity::{Required, Target};
use berth_oci::RepositoryName;
use berth_registry::RegistryError;
use berth_registry::signing::{KeyInfo, SignatureRequirement};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AdminResult, input, repository, validation};
use crate::AppState;
use crate::aws::errors::AwsError;

/// One signing operation, parsed.
pub(super) enum SigningOp {
    CreateKey { name: String, export_passphrase: Option<String> },
    TrustKey { name: String, public_key: String },
    ListKeys,
    DeleteKey(String),
    PutRequirement(Option<RepositoryName>, Option<SignatureRequirement>),
    GetRequirement(Option<RepositoryName>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateKeyInput {
    key_name: String,
    /// Also return the private key, encrypted with this passphrase in cosign's format.
    export_passphrase: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TrustKeyInput {
    key_name: String,
    public_key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyNameInput {
    key_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequirementInput {
    repository_name: Option<String>,
    /// Absent or empty: the requirement is removed.
    #[serde(default)]
    key_names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyOutput {
    key_name: String,
    public_key: String,
    fingerprint: String,
    managed: bool,
    created_at: i64,
}

fn key_output(k: KeyInfo) -> KeyOutput {
    KeyOutput {
        key_name: k.name,
        public_key: k.public_key,
        fingerprint: k.fingerprint,
        managed: k.managed,
        created_at: k.created_at,
    }
}

fn error(e: RegistryError) -> AwsError {
    match e {
        RegistryError::InvalidSetting(m) => validation(m),
        other => AwsError::server(&other),
    }
}

impl SigningOp {
    /// The operation named `op`, if it is a signing operation.
    pub(super) fn parse(op: &str, b: &Value) -> Result<Option<SigningOp>, AwsError> {
        let repo = |r: Option<String>| r.map(|r| repository(&r, "repositoryName")).transpose();
        Ok(Some(match op {
            "CreateSigningKey" => {
                let i: CreateKeyInput = input(b)?;
                if i.export_passphrase.as_deref().is_some_and(str::is_empty) {
                    return Err(validation("exportPassphrase must not be empty"));
                }
                SigningOp::CreateKey { name: i.key_name, export_passphrase: i.export_passphrase }
            }
            "TrustSigningKey" => {
                let i: TrustKeyInput = input(b)?;
                SigningOp::TrustKey { name: i.key_name, public_key: i.public_key }
            }
            "ListSigningKeys" => SigningOp::ListKeys,
            "DeleteSigningKey" => SigningOp::DeleteKey(input::<KeyNameInput>(b)?.key_name),
            "PutSignatureRequirement" => {
                let i: RequirementInput = input(b)?;
                let requirement = (!i.key_names.is_empty()).then_some(SignatureRequirement { key_names: i.key_names });
                SigningOp::PutRequirement(repo(i.repository_name)?, requirement)
            }
            "GetSignatureRequirement" => {
                let i: RequirementInput = input(b)?;
                SigningOp::GetRequirement(repo(i.repository_name)?)
            }
            _ => return Ok(None),
        }))
    }

    /// Keys are the registry's; a requirement is its repository's, or the registry's.
    pub(super) fn required(&self) -> Vec<Required> {
        let on = |action: &str, target: Target| vec![Required::new(action, target)];
        let scope = |r: &Option<RepositoryName>| r.clone().map_or(Target::Registry, Target::Repository);
        match self {
            SigningOp::CreateKey { .. } => on("berth:CreateSigningKey", Target::Registry),
            SigningOp::TrustKey { .. } => on("berth:TrustSigningKey", Target::Registry),
            SigningOp::ListKeys => on("berth:ListSigningKeys", Target::Registry),
            SigningOp::DeleteKey(_) => on("berth:DeleteSigningKey", Target::Registry),
            SigningOp::PutRequirement(r, _) => on("berth:PutSignatureRequirement", scope(r)),
            SigningOp::GetRequirement(r) => on("berth:GetSignatureRequirement", scope(r)),
        }
    }

    pub(super) fn reads(&self) -> bool {
        matches!(self, SigningOp::ListKeys | SigningOp::GetRequirement(_))
    }

    pub(super) async fn run(self, app: &AppState) -> AdminResult {
        let r = &app.registry;
        Ok(match self {
            SigningOp::CreateKey { name, export_passphrase } => {
                let new = r
                    .create_signing_key(&name, export_passphrase.as_deref().map(str::as_bytes))
                    .await
                    .map_err(error)?;
                let mut out = json!({"key": key_output(new.info)});
                if let Some(pem) = new.exported_private_key {
                    out["privateKey"] = json!(pem);
                }
                out
            }
            SigningOp::TrustKey { name, public_key } => {
                json!({"key": key_output(r.trust_signing_key(&name, &public_key).await.map_err(error)?)})
            }
            SigningOp::ListKeys => {
                let keys: Vec<KeyOutput> =
                    r.list_signing_keys().await.map_err(error)?.into_iter().map(key_output).collect();
                json!({"keys": keys})
            }
            SigningOp::DeleteKey(name) => {
                if !r.delete_signing_key(&name).await.map_err(error)? {
                    return Err(AwsError::new(
                        crate::aws::errors::ErrorType::NoSuchEntity,
                        format!("there is no signing key {name}"),
                    ));
                }
                json!({})
            }
            SigningOp::PutRequirement(repo, requirement) => {
                r.put_signature_requirement(repo.as_ref(), requirement.as_ref()).await.map_err(error)?;
                requirement_json(repo.as_ref(), requirement.as_ref())
            }
            SigningOp::GetRequirement(repo) => {
                let own = r.signature_requirement(repo.as_ref()).await.map_err(error)?;
                requirement_json(repo.as_ref(), own.as_ref())
            }
        })
    }
}

fn requirement_json(repo: Option<&RepositoryName>, requirement: Option<&SignatureRequirement>) -> Value {
    let mut v = json!({"keyNames": requirement.map(|r| r.key_names.clone()).unwrap_or_default()});
    if let Some(repo) = repo {
        v["repositoryName"] = json!(repo.as_str());
    }
    v
}
