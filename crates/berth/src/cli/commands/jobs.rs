//! `berth jobs list|show|cancel`, and waiting for a job (`--wait` of the commands that queue one).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::{CliError, JobsCommand};

pub async fn run(client: &Client, command: JobsCommand) -> Result<(), CliError> {
    match command {
        JobsCommand::List { kind, state, before, limit, json } => {
            let mut body = json!({});
            for (key, value) in [("kind", kind.map(Value::from)), ("state", state.map(Value::from))] {
                if let Some(v) = value {
                    body[key] = v;
                }
            }
            if let Some(before) = before {
                body["before"] = json!(before);
            }
            if let Some(limit) = limit {
                body["limit"] = json!(limit);
            }
            let response = client.call("ListJobs", body).await?;
            if json {
                output::print_json(&response);
            } else {
                table(&response).print();
                if let Some(next) = response.get("nextBefore").filter(|v| !v.is_null()) {
                    eprintln!("more jobs: berth jobs list --before {}", output::text(Some(next)));
                }
            }
        }
        JobsCommand::Show { id, json } => {
            let response = client.call("DescribeJob", json!({"jobId": id})).await?;
            if json {
                output::print_json(&response);
            } else {
                print!("{}", details(&response["job"]));
            }
        }
        JobsCommand::Cancel { id } => {
            let response = client.call("CancelJob", json!({"jobId": id})).await?;
            let job = &response["job"];
            let state = output::text(job.get("state"));
            match state.as_str() {
                "cancelled" => println!("job {id} cancelled"),
                "running" => println!("job {id} is running; asked it to stop"),
                _ => println!("job {id} had already ended: {state}"),
            }
        }
    }
    Ok(())
}

/// Waits until job `id` has ended (up to `limit`) and returns it as `DescribeJob` shows it.
pub async fn wait_for(client: &Client, id: i64, limit: Duration) -> Result<Value, CliError> {
    let deadline = Instant::now() + limit;
    loop {
        let job = client.call("DescribeJob", json!({"jobId": id})).await?["job"].take();
        if !matches!(job["state"].as_str(), Some("queued" | "running")) {
            return Ok(job);
        }
        if Instant::now() >= deadline {
            return Err(CliError::Failed(format!(
                "job {id} has not finished after {} s (state {}, progress {}); follow it with `berth jobs show {id}`",
                limit.as_secs(),
                output::text(job.get("state")),
                progress(&job)
            )));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The error of a job that ended without succeeding: `what job N failed|cancelled: why`.
pub fn not_succeeded(what: &str, job: &Value) -> CliError {
    let why = job.get("error").and_then(Value::as_str).unwrap_or("no reason recorded");
    CliError::Failed(format!("{what} job {} {}: {why}", output::text(job.get("jobId")), output::text(job.get("state"))))
}

/// `done/total message`, or `-`.
fn progress(job: &Value) -> String {
    let Some(p) = job.get("progress").filter(|p| !p.is_null()) else {
        return "-".into();
    };
    let count = match p.get("total").filter(|t| !t.is_null()) {
        Some(total) => format!("{}/{}", output::text(p.get("done")), output::text(Some(total))),
        None => output::text(p.get("done")),
    };
    match p.get("message").and_then(Value::as_str) {
        Some(m) => format!("{count} {m}"),
        None => count,
    }
}

fn table(response: &Value) -> Table {
    let mut t = Table::new(&["ID", "KIND", "KEY", "STATE", "ATTEMPTS", "CREATED", "PROGRESS"]);
    for j in output::items(response, "jobs") {
        t.row(vec![
            output::text(j.get("jobId")),
            output::text(j.get("kind")),
            output::text(j.get("key")),
            output::text(j.get("state")),
            format!("{}/{}", output::text(j.get("attempts")), output::text(j.get("maxAttempts"))),
            output::time(j.get("createdAt")),
            progress(j),
        ]);
    }
    t
}

fn details(job: &Value) -> String {
    let time = |k: &str| match job.get(k).filter(|v| !v.is_null()) {
        Some(v) => output::time(Some(v)),
        None => "-".into(),
    };
    let mut out = String::new();
    let mut line = |label: &str, value: String| out.push_str(&format!("{label:<12}{value}\n"));
    line("id", output::text(job.get("jobId")));
    line("kind", output::text(job.get("kind")));
    line("key", output::text(job.get("key")));
    line("state", output::text(job.get("state")));
    line("attempts", format!("{}/{}", output::text(job.get("attempts")), output::text(job.get("maxAttempts"))));
    line("created", time("createdAt"));
    line("run after", time("runAfter"));
    line("started", time("startedAt"));
    line("finished", time("finishedAt"));
    line("worker", output::text(job.get("worker")));
    line("progress", progress(job));
    if job.get("cancelRequestedAt").is_some_and(|v| !v.is_null()) {
        line("cancel", format!("asked at {}", time("cancelRequestedAt")));
    }
    line("payload", job.get("payload").map(Value::to_string).unwrap_or_else(|| "-".into()));
    line("result", output::text(job.get("result")));
    line("error", output::text(job.get("error")));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn jobs_table_and_details() {
        let job = json!({"jobId": 3, "kind": "scan", "key": "app@sha256:ab", "state": "running", "attempts": 1,
            "maxAttempts": 3, "createdAt": 0, "runAfter": 0, "startedAt": 1, "worker": "n1/0",
            "progress": {"done": 1, "total": 4, "message": "layer 2 of 4"}, "payload": {"repository": "app"}});
        let r = json!({"jobs": [job, {"jobId": 2, "kind": "gc", "key": "registry", "state": "failed",
            "attempts": 3, "maxAttempts": 3, "createdAt": 0, "error": "boom"}]});
        assert_eq!(
            super::table(&r).render(),
            "ID  KIND  KEY            STATE    ATTEMPTS  CREATED               PROGRESS\n\
             3   scan  app@sha256:ab  running  1/3       1970-01-01T00:00:00Z  1/4 layer 2 of 4\n\
             2   gc    registry       failed   3/3       1970-01-01T00:00:00Z  -\n"
        );
        let d = super::details(&r["jobs"][0]);
        assert!(d.contains("state       running\n"), "{d}");
        assert!(d.contains("progress    1/4 layer 2 of 4\n"), "{d}");
        assert!(d.contains("payload     {\"repository\":\"app\"}\n"), "{d}");
        assert!(d.contains("finished    -\n"), "{d}");
    }
}
