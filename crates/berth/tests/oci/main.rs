//! Black-box tests of the OCI distribution API: each test starts the real `berth` binary on an ephemeral
//! port with its own data directory and talks HTTP to it. Compiled as one test binary to save link time.

mod support;

mod access;
mod archive;
mod attacks;
mod blobs;
mod challenges;
mod cli_login;
mod console;
mod console_admin;
mod console_images;
mod console_repositories;
mod crash;
mod ecr;
mod encryption;
mod gc;
mod gc_stress;
mod jobs;
mod lifecycle;
mod listing;
mod manifests;
mod master_key;
mod matrix;
mod metrics;
mod migrate;
mod postgres;
mod quotas;
mod rate_limits;
mod s3;
mod scanning;
mod signing;
mod slowloris;
mod soft_delete;
mod templates;
mod uploads;
mod usage_report;
mod webhooks;
