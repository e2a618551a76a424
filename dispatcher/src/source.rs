//! Destination sets from a database table with the columns of Kamailio's `dispatcher` table (`setid`,
//! `destination`, `flags`, `priority`, `attrs`, `description`), through sqlx.
//!
//! This is the thin async edge around [`DispatcherList::from_rows`]: it queries the rows (in `id` order,
//! the list order of a file) and hands them to the sans-IO parser, which checks them as it checks file
//! lines. Reload a running [`crate::Dispatcher`] by calling `load` again and passing the list to
//! [`crate::Dispatcher::reload`].
//!
//! Opening a source runs the embedded migrations (`dispatcher/migrations/{postgres,sqlite}`), which create
//! the table when it is missing and leave an existing Kamailio table alone. The migrations are tracked in
//! their own table, `_tandem_dispatcher_migrations`, so the destinations can live in the same database (and
//! schema) as the registrar's tables.

use crate::error::ListError;
use crate::list::{DestinationRow, DispatcherList, MAX_DESTINATIONS};

/// Name of the table recording which of this crate's migrations ran.
pub const MIGRATIONS_TABLE: &str = "_tandem_dispatcher_migrations";

/// Why destinations could not be loaded from (or written to) the database.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The database failed or could not be reached.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row was rejected (its 1-based number is in the error, in `id` order).
    #[error(transparent)]
    List(#[from] ListError),
    /// A column value does not fit the type Kamailio gives it (a 32-bit integer).
    #[error("{0} does not fit in a 32-bit integer column")]
    OutOfRange(&'static str),
}

/// The rows, in list order; one more than [`MAX_DESTINATIONS`] is read so that an oversized table is
/// reported by the list builder instead of being read whole.
const SELECT_ROWS: &str = "SELECT CAST(setid AS BIGINT), destination, CAST(flags AS BIGINT), \
     CAST(priority AS BIGINT), COALESCE(attrs, '') FROM dispatcher ORDER BY id LIMIT $1";

fn row_limit() -> i64 {
    i64::try_from(MAX_DESTINATIONS).map_or(i64::MAX, |n| n.saturating_add(1))
}

fn to_row(
    (setid, destination, flags, priority, attrs): (i64, String, i64, i64, String),
) -> DestinationRow {
    DestinationRow {
        setid,
        destination,
        flags,
        priority,
        attrs,
    }
}

fn narrow(value: i64, column: &'static str) -> Result<i32, SourceError> {
    i32::try_from(value).map_err(|_| SourceError::OutOfRange(column))
}

/// The methods both SQL sources share (the query text is portable between PostgreSQL and SQLite).
macro_rules! sql_source {
    ($source:ident) => {
        impl $source {
            /// The table's rows, in `id` order, unchecked.
            pub async fn rows(&self) -> Result<Vec<DestinationRow>, SourceError> {
                let rows: Vec<(i64, String, i64, i64, String)> = sqlx::query_as(SELECT_ROWS)
                    .bind(row_limit())
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(to_row).collect())
            }

            /// Load the destination sets: the rows, checked as [`DispatcherList::from_rows`] does.
            pub async fn load(&self) -> Result<DispatcherList, SourceError> {
                Ok(DispatcherList::from_rows(self.rows().await?)?)
            }

            /// Add a destination row (`description` is free text for operators; the dispatcher ignores it).
            /// The row is not checked: a bad one makes the next [`Self::load`] fail, naming it.
            pub async fn insert(
                &self,
                row: &DestinationRow,
                description: &str,
            ) -> Result<(), SourceError> {
                sqlx::query(
                    "INSERT INTO dispatcher (setid, destination, flags, priority, attrs, description) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(narrow(row.setid, "setid")?)
                .bind(&row.destination)
                .bind(narrow(row.flags, "flags")?)
                .bind(narrow(row.priority, "priority")?)
                .bind(&row.attrs)
                .bind(description)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            /// Delete the rows of set `setid` with this destination URI (as written); returns how many.
            pub async fn delete(&self, setid: i64, destination: &str) -> Result<u64, SourceError> {
                let done = sqlx::query("DELETE FROM dispatcher WHERE setid = $1 AND destination = $2")
                    .bind(narrow(setid, "setid")?)
                    .bind(destination)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

#[cfg(feature = "postgres")]
pub use self::postgres::PostgresSource;

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use sqlx::PgPool;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use std::str::FromStr;

    /// Destination sets in a PostgreSQL `dispatcher` table.
    ///
    /// [`PostgresSource::connect_in_schema`] keeps the table in its own schema, which lets several
    /// deployments, or parallel test runs, share one database; a `search_path` in the URL
    /// (`?options=-c%20search_path%3Dname`) does the same for a schema that exists.
    #[derive(Debug, Clone)]
    pub struct PostgresSource {
        pool: PgPool,
    }

    impl PostgresSource {
        /// Connect to `url` (`postgres://user@host:port/db`) and bring the table up to date, in the default
        /// search path.
        pub async fn connect(url: &str) -> Result<PostgresSource, SourceError> {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await?;
            PostgresSource::from_pool(pool).await
        }

        /// Connect to `url` without running the migrations or any other DDL: the `dispatcher` table must
        /// exist (a Kamailio table, or one an earlier [`PostgresSource::connect`] created). For readers with
        /// read-only grants, such as a proxy reloading its list.
        pub async fn connect_existing(url: &str) -> Result<PostgresSource, SourceError> {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await?;
            Ok(PostgresSource { pool })
        }

        /// Connect to `url` with the table in `schema`, created if missing. The name must be a plain SQL
        /// identifier (ASCII letters, digits and `_`, not starting with a digit, at most 63 bytes).
        pub async fn connect_in_schema(
            url: &str,
            schema: &str,
        ) -> Result<PostgresSource, SourceError> {
            if !is_identifier(schema) {
                return Err(SourceError::Sql(sqlx::Error::Configuration(
                    format!("schema name {schema:?} is not a plain SQL identifier").into(),
                )));
            }
            let options = PgConnectOptions::from_str(url)?;
            let setup = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            // `schema` was checked to be a plain identifier just above, so it cannot inject anything.
            let create = sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {schema}"));
            sqlx::query(create).execute(&setup).await?;
            setup.close().await;
            let options = options.options([("search_path", schema)]);
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await?;
            PostgresSource::from_pool(pool).await
        }

        /// Use an existing pool and bring the table up to date.
        pub async fn from_pool(pool: PgPool) -> Result<PostgresSource, SourceError> {
            let mut migrator = sqlx::migrate!("./migrations/postgres");
            migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
            migrator.run(&pool).await?;
            Ok(PostgresSource { pool })
        }

        /// The connection pool.
        pub fn pool(&self) -> &PgPool {
            &self.pool
        }
    }

    fn is_identifier(name: &str) -> bool {
        let mut bytes = name.bytes();
        name.len() <= 63
            && bytes
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
            && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_')
    }

    sql_source!(PostgresSource);

    #[cfg(test)]
    mod tests {
        use super::is_identifier;

        #[test]
        fn schema_names_must_be_plain_identifiers() {
            assert!(is_identifier("tandem_dispatcher_1"));
            assert!(!is_identifier("1abc"));
            assert!(!is_identifier("a;drop"));
            assert!(!is_identifier(""));
            assert!(!is_identifier(&"a".repeat(64)));
        }
    }
}

#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteSource;

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use sqlx::SqlitePool;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    use std::path::Path;

    /// Destination sets in an SQLite `dispatcher` table.
    #[derive(Debug, Clone)]
    pub struct SqliteSource {
        pool: SqlitePool,
    }

    impl SqliteSource {
        /// Open (creating it if needed) the database file at `path` and bring the table up to date.
        pub async fn open(path: impl AsRef<Path>) -> Result<SqliteSource, SourceError> {
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await?;
            SqliteSource::from_pool(pool).await
        }

        /// Open the database file at `path` without creating it or running the migrations: the
        /// `dispatcher` table must exist. For readers, such as a proxy reloading its list (the connection
        /// is not read-only, so that a database in WAL mode can be read while its writer is closed).
        pub async fn open_existing(path: impl AsRef<Path>) -> Result<SqliteSource, SourceError> {
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(false);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            Ok(SqliteSource { pool })
        }

        /// Use an existing pool (a database shared with other tables) and bring the table up to date.
        pub async fn from_pool(pool: SqlitePool) -> Result<SqliteSource, SourceError> {
            let mut migrator = sqlx::migrate!("./migrations/sqlite");
            migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
            migrator.run(&pool).await?;
            Ok(SqliteSource { pool })
        }

        /// The connection pool.
        pub fn pool(&self) -> &SqlitePool {
            &self.pool
        }
    }

    sql_source!(SqliteSource);
}
