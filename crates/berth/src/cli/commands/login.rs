//! `berth login-password`: prints the password and nothing else, for `docker login --password-stdin`.

use serde_json::{Value, json};

use crate::cli::CliError;
use crate::cli::client::Client;

pub async fn run(client: &Client) -> Result<(), CliError> {
    let response = client.call("GetLoginPassword", json!({})).await?;
    match response.get("password").and_then(Value::as_str) {
        Some(password) if !password.is_empty() => {
            println!("{password}");
            Ok(())
        }
        _ => Err(CliError::Failed("GetLoginPassword: the response has no password".into())),
    }
}
