//! The SQLite store (bundled SQLite through sqlx): one file, the reference stack's default.

use crate::error::Error;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::path::Path;

/// Bindings and credentials in an SQLite database file.
///
/// Opening runs the embedded migrations (`registrar/migrations/sqlite`), so a new file is ready at once. The
/// file is put in WAL mode, which lets the proxy read bindings while a REGISTER is being written.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating it if needed) the database file at `path` and bring its schema up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, Error> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        SqliteStore::from_pool(pool).await
    }

    /// Use an existing pool (for a database shared with other tables) and bring the schema up to date.
    pub async fn from_pool(pool: SqlitePool) -> Result<SqliteStore, Error> {
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

super::sql::sql_store!(SqliteStore);
