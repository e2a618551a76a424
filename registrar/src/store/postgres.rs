//! The PostgreSQL store: bindings and credentials shared by every proxy using the same database.

use crate::error::Error;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

/// Bindings and credentials in PostgreSQL.
///
/// Connecting runs the embedded migrations (`registrar/migrations/postgres`; sqlx serialises concurrent
/// runs with an advisory lock). [`PostgresStore::connect_in_schema`] keeps the tables in their own schema,
/// which lets several deployments, or parallel test runs, share one database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user@host:port/db`) and bring the schema up to date, in the default
    /// search path.
    pub async fn connect(url: &str) -> Result<PostgresStore, Error> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        PostgresStore::from_pool(pool).await
    }

    /// Connect to `url` with every table in `schema`, created if missing. The name must be a plain SQL
    /// identifier (ASCII letters, digits and `_`, not starting with a digit, at most 63 bytes).
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<PostgresStore, Error> {
        if !is_identifier(schema) {
            return Err(Error::Sql(sqlx::Error::Configuration(
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
            .max_connections(8)
            .connect_with(options)
            .await?;
        PostgresStore::from_pool(pool).await
    }

    /// Use an existing pool and bring the schema up to date.
    pub async fn from_pool(pool: PgPool) -> Result<PostgresStore, Error> {
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
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

super::sql::sql_store!(PostgresStore);

#[cfg(test)]
mod tests {
    use super::is_identifier;

    #[test]
    fn schema_names_must_be_plain_identifiers() {
        assert!(is_identifier("tandem_test_1"));
        assert!(!is_identifier("1abc"));
        assert!(!is_identifier("a;drop"));
        assert!(!is_identifier(""));
        assert!(!is_identifier(&"a".repeat(64)));
    }
}
