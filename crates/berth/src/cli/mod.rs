//! `berth`'s client commands for the admin API (`docs/admin-api.md`): users, access keys, groups, policies,
//! repository visibility, login passwords, robot tokens and the audit log.
//!
//! Every command is one signed `POST {endpoint}/admin/v1/<Operation>` ([`client`]). Exit codes: 0 on success,
//! 1 when the server refuses or cannot be reached, 2 for usage and configuration problems (like clap's).

mod client;
mod commands;
mod duration;
mod output;
mod profile;
mod size;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};

pub use client::{CliError, Client};

/// Where the admin API is and whose credentials sign the requests. Each falls back to the environment, then
/// to the profile file (`${BERTH_CONFIG_DIR:-$HOME/.berth}/credentials`), then to a default.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Registry URL for admin commands [default: the profile's `endpoint`, else http://127.0.0.1:5000].
    #[arg(long, global = true, env = "BERTH_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Section of the credentials file to use [default: default].
    #[arg(long, global = true, env = "BERTH_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// SigV4 region [default: the profile's `region`, else us-east-1].
    #[arg(long, global = true, env = "BERTH_REGION", value_name = "R")]
    pub region: Option<String>,
    /// PEM CA certificate(s) to trust for an https endpoint, besides the public roots (e.g. a self-signed
    /// registry) [default: the profile's `ca_cert`].
    #[arg(long, global = true, env = "BERTH_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

/// The admin subcommands, flattened into the binary's top-level `Command`.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage access keys (SigV4 credentials).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage groups and their members.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage identity policies (user, group) and resource policies (repository, registry).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Manage repository settings.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Run lifecycle policies (set them with `aws ecr put-lifecycle-policy`).
    #[command(subcommand)]
    Lifecycle(LifecycleCommand),
    /// Sign in with a user's password: saves a new access key of that user, the endpoint and the region as
    /// the profile in the credentials file (like `aws configure` and `docker login` together).
    Login {
        /// The user to sign in as.
        #[arg(long, default_value = "admin")]
        username: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete the profile's access key on the registry (when allowed) and remove the profile.
    Logout,
    /// Print a temporary password for `docker login`, and nothing else.
    ///
    /// `berth login-password | docker login --username AWS --password-stdin HOST`
    LoginPassword,
    /// Manage robot tokens (repository-scoped passwords for CI).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Background jobs (scans, ...): list, show, cancel.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Online garbage collection: reclaim the bytes of deleted images and repositories.
    #[command(subcommand)]
    Gc(GcCommand),
    /// Encryption at rest: encrypt the blobs stored before it was enabled.
    #[command(subcommand)]
    Kms(KmsCommand),
    /// Storage quotas on a repository or a namespace (`team-a/`): pushes that would exceed one are refused.
    #[command(subcommand)]
    Quota(QuotaCommand),
    /// Metered usage: requests, bytes in and out, storage and their cost, like a cost and usage report.
    #[command(subcommand)]
    Usage(UsageCommand),
    /// Repository creation templates (ECR's): what a repository created by a push starts with.
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Image signing (cosign format): keys, "only signed images may be pulled", an image's signing status.
    #[command(subcommand)]
    Signing(SigningCommand),
    /// Webhooks: registry events (pushes, deletions, scans, ...) sent, signed, to a URL.
    #[command(subcommand)]
    Webhook(commands::webhooks::WebhookCommand),
    /// Scan an image for known vulnerabilities now (ECR's StartImageScan).
    Scan(ScanArgs),
    /// Show an image's vulnerability findings (ECR's DescribeImageScanFindings).
    Findings(FindingsArgs),
    /// Find scanned images affected by an advisory or containing a package; list and restore deleted images.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    #[command(group(ArgGroup::new("query").required(true).args(["vulnerability", "package"])))]
    Images(ImagesArgs),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user.
    Create {
        name: String,
        /// Make the user an administrator (always allowed, whatever the policies say).
        #[arg(long)]
        admin: bool,
        /// Read the user's password from the first line of stdin (otherwise the user has no password).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user.
    Delete { name: String },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an access key and print its secret (shown only this once).
    Create {
        /// Owner of the key [default: the calling user].
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Print exactly {"accessKeyId": "...", "secretAccessKey": "..."} on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List access keys (all of them, or one user's).
    List {
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Delete an access key.
    Delete { id: String },
    /// Deactivate an access key (it stops working until activated again).
    Deactivate { id: String },
    /// Activate an access key.
    Activate { id: String },
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create a group.
    Create { name: String },
    /// Delete a group.
    Delete { name: String },
    /// List groups and their members.
    List {
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Add a user to a group.
    AddUser { group: String, user: String },
    /// Remove a user from a group.
    RemoveUser { group: String, user: String },
}

/// Exactly one policy target: a user, a group, a repository, or the registry.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(group(ArgGroup::new("target").required(true).multiple(false).args(["user", "group", "repository", "registry"])))]
pub struct PolicyTarget {
    /// A user's identity policy.
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
    /// A group's identity policy.
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
    /// A repository's resource policy (needs `Principal`).
    #[arg(long, value_name = "R")]
    pub repository: Option<String>,
    /// The registry's resource policy (needs `Principal`).
    #[arg(long)]
    pub registry: bool,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Set a policy from a JSON document (FILE, or - for stdin).
    Put {
        #[command(flatten)]
        target: PolicyTarget,
        /// The policy document (JSON), or - to read it from stdin.
        file: PathBuf,
    },
    /// Print a policy document.
    Get {
        #[command(flatten)]
        target: PolicyTarget,
    },
    /// Delete a policy.
    Delete {
        #[command(flatten)]
        target: PolicyTarget,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Anyone may pull, without credentials.
    Public,
    /// Only principals the policies allow.
    Private,
}

impl Visibility {
    fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum RepoCommand {
    /// Make a repository public (anonymous pulls) or private.
    SetVisibility {
        name: String,
        #[arg(value_enum)]
        visibility: Visibility,
    },
    /// Refuse pulls of images whose scan has findings at or above a severity (--clear removes the policy).
    #[command(group(ArgGroup::new("policy").required(true).args(["min_severity", "clear"])))]
    SetPullPolicy {
        name: String,
        /// CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL.
        #[arg(long, value_name = "SEVERITY")]
        min_severity: Option<String>,
        /// An advisory id or alias (e.g. CVE-2024-3094) that never blocks; repeatable.
        #[arg(long, value_name = "ID", requires = "min_severity")]
        allow: Vec<String>,
        /// Remove the policy: every image can be pulled.
        #[arg(long)]
        clear: bool,
    },
    /// Show a repository's pull policy.
    GetPullPolicy { name: String },
    /// List deleted repositories that can still be restored.
    Deleted {
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Restore a deleted repository with its settings, images and tags.
    Restore { name: String },
    /// Storage used: per repository total, exclusive, shared and reclaimable bytes, and (without REPO) the
    /// registry's stored and logical bytes with the deduplication ratio.
    Usage {
        /// Only this repository.
        name: Option<String>,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum QuotaCommand {
    /// Set (or replace) a quota: `berth quota set team-a/ 50GiB`, `berth quota set team-a/app 1GiB`.
    Set {
        /// A repository name, or a namespace ending in `/` (every repository under it).
        prefix: String,
        /// The limit: e.g. 50GiB, 500MB, or a number of bytes.
        #[arg(value_parser = size::parse_size)]
        limit: u64,
    },
    /// List quotas with their current usage.
    List {
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Remove a quota.
    Delete { prefix: String },
}

#[derive(Subcommand, Debug)]
pub enum SigningCommand {
    /// Create a signing key berth keeps (ECDSA P-256; the private key sealed with the master key). Prints
    /// the public key; `--export` also writes the key pair in cosign's format (PREFIX.key, encrypted with
    /// the passphrase file's first line, and PREFIX.pub), as `skopeo copy --sign-by-sigstore-private-key`
    /// and a policy.json `keyPath` read them.
    CreateKey {
        #[arg(long)]
        name: String,
        #[arg(long, requires = "passphrase_file")]
        export: bool,
        /// The passphrase that encrypts the exported private key (its first line).
        #[arg(long)]
        passphrase_file: Option<std::path::PathBuf>,
        /// Where the exported files go: PREFIX.key and PREFIX.pub (default: the key's name).
        #[arg(long)]
        output_key_prefix: Option<String>,
    },
    /// Trust a client's public key (PEM `PUBLIC KEY`, e.g. cosign.pub): images it signed count as signed.
    TrustKey {
        #[arg(long)]
        name: String,
        #[arg(long)]
        public_key_file: std::path::PathBuf,
    },
    /// List signing keys.
    ListKeys {
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Delete a signing key.
    DeleteKey {
        #[arg(long)]
        name: String,
    },
    /// Only images signed by one of these keys may be pulled, from the repository (or every repository
    /// without a requirement of its own); `--off` removes the requirement.
    Require {
        #[arg(long)]
        repository: Option<String>,
        /// Key names (repeat or separate with commas).
        #[arg(long = "key", value_delimiter = ',', required_unless_present = "off", conflicts_with = "off")]
        keys: Vec<String>,
        #[arg(long)]
        off: bool,
    },
    /// Show the signature requirement of a repository (or the registry's).
    Requirement {
        #[arg(long)]
        repository: Option<String>,
    },
    /// An image's signing status per signing rule (ECR's DescribeImageSigningStatus).
    Status {
        repository: String,
        /// A tag or a digest (sha256:...).
        image: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UsageCommand {
    /// Requests, GB in and out, GB-months stored and cost over a range of days (UTC, both included):
    /// `berth usage report --from 2026-11-01 --to 2026-11-30 --group-by repository`.
    Report {
        /// The first day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// The last day, YYYY-MM-DD (included).
        #[arg(long)]
        to: String,
        #[arg(long, value_enum, default_value_t = UsageGroup::Repository)]
        group_by: UsageGroup,
        #[arg(long, value_enum, default_value_t = UsageFormat::Table)]
        format: UsageFormat,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGroup {
    Repository,
    Principal,
    Namespace,
    Operation,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageFormat {
    Table,
    Csv,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum LifecycleCommand {
    /// Evaluate a repository's lifecycle policy now and expire what it selects.
    Run {
        name: String,
        /// Wait for the run to finish and list the images it expired.
        #[arg(long)]
        wait: bool,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAction {
    Pull,
    Push,
    Delete,
}

impl TokenAction {
    fn as_str(self) -> &'static str {
        match self {
            TokenAction::Pull => "pull",
            TokenAction::Push => "push",
            TokenAction::Delete => "delete",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a robot token and print it (shown only this once); use it as a `docker login` password.
    Create {
        /// A name to recognise the token by.
        #[arg(long, value_name = "N")]
        name: String,
        /// A repository (or `prefix/*`) the token may use; repeat for several.
        #[arg(long = "repository", value_name = "R", required = true)]
        repositories: Vec<String>,
        /// What the token may do, comma-separated.
        #[arg(long, value_name = "ACTIONS", value_enum, value_delimiter = ',', required = true)]
        actions: Vec<TokenAction>,
        /// Lifetime: 30m, 24h, 7d, or seconds.
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = duration::parse_duration)]
        expires_in: u64,
        /// Print the API's JSON response (including the token).
        #[arg(long)]
        json: bool,
    },
    /// List robot tokens.
    List {
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Delete (revoke) a robot token.
    Delete { id: String },
}

#[derive(Subcommand, Debug)]
pub enum KmsCommand {
    /// Replace every blob stored unencrypted by an encrypted copy, in the background (a resumable job; blobs
    /// stay readable throughout). Needs servers started with `--encryption true`.
    EncryptExisting {
        /// Wait until it has finished, then print what it did.
        #[arg(long)]
        wait: bool,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum GcCommand {
    /// Start a collection now (on whichever server sees the request first).
    Run {
        /// Wait until it has finished, then print the status.
        #[arg(long)]
        wait: bool,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Show progress, bytes reclaimed and what is pending.
    Status {
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TemplatesCommand {
    /// List the templates, by prefix (aws ecr create-repository-creation-template writes them).
    List {
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Show one template: settings, policies, tags.
    Show {
        /// `ROOT` or a namespace prefix (`team`, `team/`).
        prefix: String,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Only jobs of this kind (e.g. `scan`).
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// Only jobs in this state.
        #[arg(long, value_name = "STATE", value_parser = ["queued", "running", "succeeded", "failed", "cancelled"])]
        state: Option<String>,
        /// Only jobs older than this id (the hint printed after a full page).
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
        /// At most this many jobs [server default: 100].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: Option<u32>,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Show one job: payload, attempts, progress, result or error.
    Show {
        id: i64,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a job: a queued job is cancelled at once, a running one is asked to stop.
    Cancel { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// List audit events, oldest first.
    List {
        /// Only events after this id (the `nextAfter` of a previous page).
        #[arg(long, value_name = "ID")]
        after: Option<i64>,
        /// At most this many events [server default: 100].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: Option<u32>,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The image: REPOSITORY:TAG or REPOSITORY@DIGEST.
    pub image: String,
    /// Wait until the scan has finished, then print its findings.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub timeout: u64,
    /// Print the API's JSON response.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub command: Option<ImagesCommand>,
    /// Images whose findings include this advisory (an OSV id or an alias such as CVE-2024-3094).
    #[arg(long, value_name = "ID")]
    pub vulnerability: Option<String>,
    /// Images containing this package (binary or source package name).
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
    /// Print the API's JSON response.
    #[arg(long)]
    pub json: bool,
}

/// Soft-deleted images (see `BERTH_SOFT_DELETE_WINDOW`).
#[derive(Subcommand, Debug)]
pub enum ImagesCommand {
    /// List the deleted images of a repository that can still be restored.
    Deleted {
        repository: String,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// Restore a deleted image (REPOSITORY@DIGEST) with its tags, except tags another image took meanwhile.
    Restore { image: String },
}

#[derive(Args, Debug)]
pub struct FindingsArgs {
    /// The image: REPOSITORY:TAG or REPOSITORY@DIGEST.
    pub image: String,
    /// Only findings at or above this severity (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED).
    #[arg(long, value_name = "SEVERITY")]
    pub min_severity: Option<String>,
    /// Print the findings as JSON (every page of the API's responses, merged).
    #[arg(long)]
    pub json: bool,
}

/// Runs one admin command and returns the process exit code; every message has been printed.
pub async fn run(global: GlobalArgs, command: AdminCommand) -> ExitCode {
    match dispatch(global, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn dispatch(global: GlobalArgs, command: AdminCommand) -> Result<(), CliError> {
    // Signing in and out work without (valid) credentials.
    match &command {
        AdminCommand::Login { username, password_stdin } => {
            return commands::session::login(&global, username, *password_stdin).await;
        }
        AdminCommand::Logout => return commands::session::logout(&global).await,
        _ => {}
    }
    let client = client::Client::from_args(&global)?;
    match command {
        AdminCommand::User(c) => commands::users::run(&client, c).await,
        AdminCommand::Key(c) => commands::keys::run(&client, c).await,
        AdminCommand::Group(c) => commands::groups::run(&client, c).await,
        AdminCommand::Policy(c) => commands::policies::run(&client, c).await,
        AdminCommand::Repo(c) => commands::repos::run(&client, c).await,
        AdminCommand::Lifecycle(c) => commands::lifecycle::run(&client, c).await,
        AdminCommand::LoginPassword => commands::login::run(&client).await,
        AdminCommand::Login { .. } | AdminCommand::Logout => unreachable!("handled above"),
        AdminCommand::Token(c) => commands::tokens::run(&client, c).await,
        AdminCommand::Audit(c) => commands::audit::run(&client, c).await,
        AdminCommand::Jobs(c) => commands::jobs::run(&client, c).await,
        AdminCommand::Gc(c) => commands::gc::run(&client, c).await,
        AdminCommand::Kms(c) => commands::kms::run(&client, c).await,
        AdminCommand::Quota(c) => commands::quotas::run(&client, c).await,
        AdminCommand::Usage(c) => commands::usage::run(&client, c).await,
        AdminCommand::Templates(c) => commands::templates::run(&client, c).await,
        AdminCommand::Signing(c) => commands::signing::run(&client, c).await,
        AdminCommand::Webhook(c) => commands::webhooks::run(&client, c).await,
        AdminCommand::Scan(a) => commands::scans::scan(&client, a).await,
        AdminCommand::Findings(a) => commands::scans::findings(&client, a).await,
        AdminCommand::Images(ImagesArgs { command: Some(c), .. }) => commands::deleted::images(&client, c).await,
        AdminCommand::Images(a) => commands::scans::images(&client, a).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// The admin half of the binary's CLI, parsed on its own.
    #[derive(Parser, Debug)]
    #[command(name = "berth")]
    struct TestCli {
        #[command(flatten)]
        global: GlobalArgs,
        #[command(subcommand)]
        command: AdminCommand,
    }

    fn parse(args: &[&str]) -> Result<TestCli, clap::Error> {
        TestCli::try_parse_from(std::iter::once("berth").chain(args.iter().copied()))
    }

    fn policy_target(args: &[&str]) -> Result<PolicyTarget, clap::Error> {
        match parse(args)?.command {
            AdminCommand::Policy(PolicyCommand::Get { target }) => Ok(target),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn definitions_are_consistent() {
        TestCli::command().debug_assert();
        crate::Cli::command().debug_assert();
    }

    #[test]
    fn policy_target_is_required_and_exclusive() {
        let t = policy_target(&["policy", "get", "--user", "alice"]).unwrap();
        assert_eq!(t, PolicyTarget { user: Some("alice".into()), group: None, repository: None, registry: false });
        let t = policy_target(&["policy", "get", "--registry"]).unwrap();
        assert!(t.registry && t.user.is_none());

        let e = policy_target(&["policy", "get"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        for args in [
            &["policy", "get", "--user", "a", "--group", "g"][..],
            &["policy", "get", "--repository", "r", "--registry"][..],
            &["policy", "delete", "--group", "g", "--registry"][..],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict, "{args:?}");
        }
        let e = parse(&["policy", "put", "--user", "a"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        match parse(&["policy", "put", "--repository", "team/app", "-"]).unwrap().command {
            AdminCommand::Policy(PolicyCommand::Put { target, file }) => {
                assert_eq!(target.repository.as_deref(), Some("team/app"));
                assert_eq!(file, PathBuf::from("-"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn token_create_arguments() {
        let cli = parse(&[
            "token",
            "create",
            "--name",
            "ci",
            "--repository",
            "team/app",
            "--repository",
            "base/*",
            "--actions",
            "pull,push",
            "--expires-in",
            "7d",
        ])
        .unwrap();
        match cli.command {
            AdminCommand::Token(TokenCommand::Create { name, repositories, actions, expires_in, json }) => {
                assert_eq!(name, "ci");
                assert_eq!(repositories, ["team/app", "base/*"]);
                assert_eq!(actions, [TokenAction::Pull, TokenAction::Push]);
                assert_eq!(expires_in, 7 * 86400);
                assert!(!json);
            }
            other => panic!("unexpected {other:?}"),
        }
        match parse(&["token", "create", "--name", "ci", "--repository", "a", "--actions", "pull"]).unwrap().command {
            AdminCommand::Token(TokenCommand::Create { expires_in, .. }) => assert_eq!(expires_in, 86400),
            other => panic!("unexpected {other:?}"),
        }
        for args in [
            &["token", "create", "--name", "ci", "--actions", "pull"][..],
            &["token", "create", "--name", "ci", "--repository", "a"][..],
            &["token", "create", "--name", "ci", "--repository", "a", "--actions", "pull,fly"][..],
            &["token", "create", "--name", "ci", "--repository", "a", "--actions", "pull", "--expires-in", "2w"][..],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn other_arguments() {
        assert!(parse(&["repo", "set-visibility", "team/app", "public"]).is_ok());
        assert!(parse(&["repo", "set-visibility", "team/app", "internal"]).is_err());
        assert!(parse(&["jobs", "list", "--state", "done"]).is_err());
        assert!(parse(&["jobs", "list", "--kind", "scan", "--state", "running", "--limit", "5"]).is_ok());
        assert!(parse(&["jobs", "show", "x"]).is_err());
        assert!(parse(&["jobs", "cancel", "7"]).is_ok());
        assert!(parse(&["audit", "list", "--limit", "0"]).is_err());
        assert!(parse(&["audit", "list", "--limit", "1001"]).is_err());
        assert!(parse(&["audit", "list", "--after", "42", "--limit", "1000", "--json"]).is_ok());
        assert!(parse(&["login-password"]).is_ok());
        assert!(parse(&["group", "add-user", "devs"]).is_err());
        let cli =
            parse(&["--endpoint", "https://r.example", "--profile", "prod", "--region", "eu-west-1", "user", "list"])
                .unwrap();
        assert_eq!(cli.global.endpoint.as_deref(), Some("https://r.example"));
        assert_eq!(cli.global.profile.as_deref(), Some("prod"));
        assert_eq!(cli.global.region.as_deref(), Some("eu-west-1"));
        // Global options are accepted after the subcommand too, as the aws CLI accepts --endpoint-url.
        let cli = parse(&["user", "create", "alice", "--endpoint", "http://127.0.0.1:9", "--profile", "p"]).unwrap();
        assert_eq!(cli.global.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(cli.global.profile.as_deref(), Some("p"));
        let cli = parse(&["key", "list", "--region", "eu-north-1", "--json"]).unwrap();
        assert_eq!(cli.global.region.as_deref(), Some("eu-north-1"));
        match parse(&["user", "create", "bob", "--admin", "--password-stdin"]).unwrap().command {
            AdminCommand::User(UserCommand::Create { name, admin, password_stdin }) => {
                assert_eq!(name, "bob");
                assert!(admin && password_stdin);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
