//! One module per resource; each turns a parsed command into admin API calls and prints the outcome.

pub mod audit;
pub mod deleted;
pub mod gc;
pub mod groups;
pub mod jobs;
pub mod keys;
pub mod kms;
pub mod lifecycle;
pub mod login;
pub mod policies;
pub mod quotas;
pub mod repos;
pub mod scans;
pub mod session;
pub mod signing;
pub mod templates;
pub mod tokens;
pub mod usage;
pub mod users;
pub mod webhooks;

use std::io::{BufRead, Read};
use std::path::Path;

use super::CliError;

/// The first line of `input` without its line ending (for `--password-stdin`).
fn first_line(mut input: impl BufRead, what: &str) -> Result<String, CliError> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| CliError::Usage(format!("cannot read the {what} from stdin: {e}")))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err(CliError::Usage(format!("the {what} read from stdin is empty")));
    }
    Ok(line.to_string())
}

/// Reads one line from stdin.
fn stdin_line(what: &str) -> Result<String, CliError> {
    first_line(std::io::stdin().lock(), what)
}

/// The whole of `path`, or of stdin when `path` is `-`.
fn read_input(path: &Path) -> Result<String, CliError> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| CliError::Usage(format!("cannot read stdin: {e}")))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn first_line_strips_the_line_ending_and_ignores_the_rest() {
        assert_eq!(first_line(&b"s3cret\nsecond\n"[..], "password").unwrap(), "s3cret");
        assert_eq!(first_line(&b"s3cret\r\n"[..], "password").unwrap(), "s3cret");
        assert_eq!(first_line(&b"no newline"[..], "password").unwrap(), "no newline");
        assert_eq!(first_line(&b" spaces kept \n"[..], "password").unwrap(), " spaces kept ");
        let e = first_line(&b"\nsecond\n"[..], "password").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(first_line(&b""[..], "password").is_err());
    }
}
