//! `berth login` and `berth logout`: from a user's password to a CLI (and aws CLI) that works, as
//! `aws configure` and `docker login` do together.
//!
//! `login` signs in with the password (prompted, or read from stdin), receives a new access key of that
//! user (`POST /auth/v1/Login`, allowed when the user may `berth:CreateAccessKey` on themselves), and writes
//! it with the endpoint and region to the profile's section of the credentials file (0600). `logout`
//! deletes that key on the server when it may, and removes the section.

use serde_json::{Value, json};

use crate::cli::client::{self, Client, Location, Settings};
use crate::cli::{CliError, GlobalArgs, profile};

const DEFAULT_PROFILE: &str = "default";

fn credentials_path() -> Result<std::path::PathBuf, CliError> {
    profile::default_path()
        .ok_or_else(|| CliError::Usage("no home directory: set BERTH_CONFIG_DIR to where credentials go".into()))
}

fn read_password(password_stdin: bool) -> Result<String, CliError> {
    let password = if password_stdin {
        super::stdin_line("password")?
    } else {
        rpassword::prompt_password("Password: ").map_err(|e| {
            CliError::Usage(format!("cannot read a password from the terminal ({e}): use --password-stdin"))
        })?
    };
    if password.is_empty() {
        return Err(CliError::Usage("the password is empty".into()));
    }
    Ok(password)
}

pub async fn login(global: &GlobalArgs, username: &str, password_stdin: bool) -> Result<(), CliError> {
    let (_, profiles) = client::load_profiles()?;
    let name = global.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let section = profiles.as_ref().and_then(|p| p.get(name));
    let location = Location::resolve(global, section)?;
    let password = read_password(password_stdin)?;
    let key = client::login(&location, username, &password).await?;
    let field = |k: &str| {
        key.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| CliError::Failed(format!("Login: the response has no {k}")))
    };
    let (id, secret) = (field("accessKeyId")?, field("secretAccessKey")?);
    let path = credentials_path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(CliError::Usage(format!("cannot read {}: {e}", path.display()))),
    };
    let endpoint = location.endpoint.to_string();
    let mut values = vec![
        ("endpoint", endpoint.trim_end_matches('/')),
        ("region", location.region.as_str()),
        ("access_key_id", id.as_str()),
        ("secret_access_key", secret.as_str()),
    ];
    let ca = location.ca_cert.as_ref().map(|p| p.display().to_string());
    if let Some(ca) = &ca {
        values.push(("ca_cert", ca));
    }
    profile::write(&path, &profile::with_section(&text, name, &values))
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
    println!(
        "Signed in to {} as {username}; access key {id} saved as profile [{name}] in {}",
        location.endpoint,
        path.display()
    );
    println!("Next: berth login-password | docker login --username AWS --password-stdin {}", host_of(&location));
    println!("      aws ecr describe-repositories --endpoint-url {} (with this key)", location.endpoint);
    Ok(())
}

fn host_of(location: &Location) -> String {
    let url = &location.endpoint;
    match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    }
}

pub async fn logout(global: &GlobalArgs) -> Result<(), CliError> {
    let path = credentials_path()?;
    let (_, profiles) = client::load_profiles()?;
    let name = global.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let Some(profiles) = profiles else {
        println!("not signed in: there is no {}", path.display());
        return Ok(());
    };
    if profiles.get(name).is_none() {
        println!("not signed in: no profile [{name}] in {}", path.display());
        return Ok(());
    }
    // Delete the key on the server first, signed with the key itself; a refusal leaves it to an administrator.
    let no_env = |_: &str| None;
    match Settings::resolve(global, no_env, Some(&path), Some(&profiles)).and_then(Client::new) {
        Ok(c) => {
            let id = c.access_key_id().to_string();
            match c.call("DeleteAccessKey", json!({"accessKeyId": id})).await {
                Ok(_) => println!("deleted access key {id} on the registry"),
                Err(e) => {
                    eprintln!("berth: the access key {id} stays on the registry ({e}); an administrator can delete it")
                }
            }
        }
        Err(e) => eprintln!("berth: cannot use profile [{name}] to delete its key ({e})"),
    }
    let text =
        std::fs::read_to_string(&path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    profile::write(&path, &profile::without_section(&text, name))
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
    println!("removed profile [{name}] from {}", path.display());
    Ok(())
}
