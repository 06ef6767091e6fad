//! Copies a whole SQLite metadata store into a PostgreSQL one (`berth migrate`), table by table.
//!
//! Both dialects' migrations create the same tables and columns (integers BIGINT, bytes BYTEA, booleans
//! BOOLEAN, the rest TEXT), so the copy is generic: the target's catalog says which tables and columns exist
//! and in which order foreign keys need them; every row is read from SQLite and inserted with its ids as they
//! are, then the identity sequences move past the highest id. Everything is one transaction: a copy that is
//! killed leaves the target as it was, and a finished one is recorded in `berth_migration`, so running it
//! again does nothing twice.
//!
//! Not copied: upload sessions in progress (`uploads`: their bytes stay in the source) and `journal_changes`
//! (the target's triggers record every copied manifest and tag there again, so its nodes write the repository
//! journal into the target blob store), garbage collection's review queue (every copied blob is queued for
//! review in the target instead) and its totals (`gc_state`: the target keeps its own row), and the rate limit
//! counters of the current windows (`rate_limit_counts`: the windows start over). The metering history (`meter`,
//! `storage_hourly`) is copied: it is what past usage reports are made of.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Row, postgres::PgArguments, query::Query};

use crate::{PgMeta, SqliteMeta};

/// Tables that are not copied (see the module docs).
const SKIPPED: &[&str] = &[
    "uploads",
    "journal_changes",
    "gc_blob_review_queue",
    "gc_state",
    "rate_limit_counts",
    "_sqlx_migrations",
    MARKER,
];
/// The table in the target recording which installation is being (or was) copied into it.
const MARKER: &str = "berth_migration";

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(
        "the target metadata database already holds another installation's data ({0}); berth copies only into \
         an empty database or one a previous run of this same migration started: point [metadata] url at a new, \
         empty database (e.g. `createdb berth_new`), or drop this one and create it again"
    )]
    NotEmpty(String),
    #[error("column {table}.{column} has type {kind}, which berth migrate does not copy")]
    UnsupportedType { table: String, column: String, kind: String },
    #[error("copying {table}: {source}")]
    Table { table: String, source: sqlx::Error },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Where a target stands for the source `source_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    /// Empty, or a run for this source started but the metadata is not copied yet.
    Pending,
    /// A run for this source copied the metadata already.
    Copied,
}

/// Rows copied per table, in copy order.
#[derive(Debug, Default)]
pub struct TransferReport {
    pub tables: Vec<(String, u64)>,
}

impl TransferReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

struct Table {
    name: String,
    /// (column, PostgreSQL type) in ordinal order.
    columns: Vec<(String, String)>,
    /// Columns with an identity sequence.
    identities: Vec<String>,
}

/// Claims `target` for the installation `source_id` (an opaque id of the source): an empty target is marked
/// as this source's; a target marked for it already is resumed; anything else is refused.
pub async fn claim_target(target: &PgMeta, source_id: &str) -> Result<TargetState, TransferError> {
    let pool = target.pool();
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {MARKER} (source TEXT NOT NULL, metadata_copied BOOLEAN NOT NULL, \
         started_at BIGINT NOT NULL)"
    ))
    .execute(pool)
    .await?;
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("LOCK TABLE {MARKER} IN EXCLUSIVE MODE")).execute(&mut *tx).await?;
    let marks: Vec<(String, bool)> =
        sqlx::query_as(&format!("SELECT source, metadata_copied FROM {MARKER}")).fetch_all(&mut *tx).await?;
    if let Some((source, copied)) = marks.first() {
        if source != source_id {
            return Err(TransferError::NotEmpty(format!("a migration from another installation ({source})")));
        }
        return Ok(if *copied { TargetState::Copied } else { TargetState::Pending });
    }
    let tables = target_tables(target).await?;
    let mut held = Vec::new();
    for t in &tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{}\"", t.name)).fetch_one(&mut *tx).await?;
        if n > 0 {
            held.push(format!("{n} rows in {}", t.name));
        }
    }
    if !held.is_empty() {
        return Err(TransferError::NotEmpty(held.join(", ")));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    sqlx::query(&format!("INSERT INTO {MARKER} (source, metadata_copied, started_at) VALUES ($1, false, $2)"))
        .bind(source_id)
        .bind(now as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(TargetState::Pending)
}

/// Copies every table of `source` into `target` in one transaction and marks the target copied. Call after
/// [`claim_target`] answered [`TargetState::Pending`].
pub async fn copy_metadata(source: &SqliteMeta, target: &PgMeta) -> Result<TransferReport, TransferError> {
    let tables = target_tables(target).await?;
    let mut tx = target.pool().begin().await?;
    let mut report = TransferReport::default();
    for t in &tables {
        let n = copy_table(source, &mut tx, t)
            .await
            .map_err(|source| TransferError::Table { table: t.name.clone(), source })?;
        report.tables.push((t.name.clone(), n));
    }
    // The copied links queued their blobs through the target's triggers; blobs without links (left by deleted
    // repositories) are queued here, so the target's collector looks at every blob once.
    sqlx::query(
        "INSERT INTO gc_blob_review_queue (digest, review_after) SELECT digest, 0 FROM blobs \
         ON CONFLICT (digest) DO NOTHING",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!("UPDATE {MARKER} SET metadata_copied = true")).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(report)
}

/// The target's tables to copy, parents before children.
async fn target_tables(target: &PgMeta) -> Result<Vec<Table>, TransferError> {
    let pool = target.pool();
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_identity::text \
         FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await?;
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for (table, column, kind, identity) in rows {
        if SKIPPED.contains(&table.as_str()) {
            continue;
        }
        if !matches!(kind.as_str(), "bigint" | "integer" | "smallint" | "text" | "bytea" | "boolean") {
            return Err(TransferError::UnsupportedType { table, column, kind });
        }
        let t = tables.entry(table.clone()).or_insert_with(|| Table {
            name: table,
            columns: Vec::new(),
            identities: Vec::new(),
        });
        if identity == "YES" {
            t.identities.push(column.clone());
        }
        t.columns.push((column, kind));
    }
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c \
         WHERE c.contype = 'f' AND c.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
    )
    .fetch_all(pool)
    .await?;
    // Kahn's algorithm over "child needs parent" (self references do not order anything).
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = tables.keys().map(|k| (k.as_str(), BTreeSet::new())).collect();
    for (child, parent) in &edges {
        let (child, parent) = (child.trim_matches('"'), parent.trim_matches('"'));
        if child != parent
            && tables.contains_key(parent)
            && let Some(set) = needs.get_mut(child)
        {
            set.insert(parent);
        }
    }
    let mut order: Vec<String> = Vec::new();
    while !needs.is_empty() {
        let ready: Vec<&str> = needs.iter().filter(|(_, n)| n.is_empty()).map(|(k, _)| *k).collect();
        // A cycle would leave nothing ready: take the rest in name order (the insert then names the problem).
        let ready = if ready.is_empty() { needs.keys().copied().collect() } else { ready };
        for r in &ready {
            needs.remove(r);
        }
        for n in needs.values_mut() {
            for r in &ready {
                n.remove(r);
            }
        }
        order.extend(ready.into_iter().map(str::to_string));
    }
    Ok(order.into_iter().filter_map(|name| tables.remove(&name)).collect())
}

async fn copy_table(
    source: &SqliteMeta,
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    t: &Table,
) -> Result<u64, sqlx::Error> {
    let names: Vec<String> = t.columns.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let select = format!("SELECT {} FROM \"{}\"", names.join(", "), t.name);
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let insert = format!(
        "INSERT INTO \"{}\" ({}) OVERRIDING SYSTEM VALUE VALUES ({})",
        t.name,
        names.join(", "),
        placeholders.join(", ")
    );
    let rows = sqlx::query(&select).fetch_all(source.reader_pool()).await?;
    let mut n = 0;
    for row in rows {
        let mut q: Query<'_, sqlx::Postgres, PgArguments> = sqlx::query(&insert);
        for (i, (_, kind)) in t.columns.iter().enumerate() {
            q = match kind.as_str() {
                "bigint" | "integer" | "smallint" => q.bind(row.try_get_unchecked::<Option<i64>, _>(i)?),
                "boolean" => q.bind(row.try_get_unchecked::<Option<i64>, _>(i)?.map(|v| v != 0)),
                "bytea" => q.bind(row.try_get_unchecked::<Option<Vec<u8>>, _>(i)?),
                _ => q.bind(row.try_get_unchecked::<Option<String>, _>(i)?),
            };
        }
        q.execute(&mut **tx).await?;
        n += 1;
    }
    for column in &t.identities {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('\"{0}\"', '{1}'), GREATEST((SELECT max(\"{1}\") FROM \"{0}\"), 0) + 1, false)",
            t.name, column
        ))
        .execute(&mut **tx)
        .await?;
    }
    Ok(n)
}
