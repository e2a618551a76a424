//! The database loader against real databases: SQLite in a temp file always, PostgreSQL with
//! `DATABASE_URL` (skipped loudly when it is unset, a failure under `CI=true`), in a schema of its own that
//! is dropped afterwards.
#![cfg(any(feature = "postgres", feature = "sqlite"))]

use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tandem_dispatcher::source::SourceError;
use tandem_dispatcher::{
    DestinationRow, DestinationState, Dispatcher, DispatcherConfig, DispatcherList, Field,
};

fn row(setid: i64, destination: &str, flags: i64, priority: i64, attrs: &str) -> DestinationRow {
    DestinationRow {
        setid,
        destination: destination.into(),
        flags,
        priority,
        attrs: attrs.into(),
    }
}

/// What every backend must do, through the shared methods (a macro: the sources share no trait).
macro_rules! conformance {
    ($source:expr) => {{
        let source = $source;
        assert!(source.load().await.expect("load an empty table").is_empty());
        source
            .insert(&row(1, "sip:127.0.0.1:5080", 0, 10, "duid=a;weight=80"), "first")
            .await
            .expect("insert");
        source
            .insert(&row(1, "sip:127.0.0.1:5081", 1, 5, ""), "inactive")
            .await
            .expect("insert");
        source
            .insert(&row(2, "sip:media.example.com;transport=tcp", 8, 0, ""), "")
            .await
            .expect("insert");
        let list = source.load().await.expect("load");
        // Rows come back in insertion (id) order, grouped by set, with every column.
        let text = list.to_string();
        assert_eq!(
            text,
            "1 sip:127.0.0.1:5080 0 10 duid=a;weight=80\n1 sip:127.0.0.1:5081 1 5\n\
             2 sip:media.example.com;transport=tcp 8 0\n"
        );
        let first = &list.set(1).expect("set 1").destinations[0];
        assert_eq!(first.attrs.weight(), Some(80));
        assert_eq!(first.attrs.duid(), Some("a"));
        let kept_uri = first.uri.clone();

        // Reloading from the table keeps the state of the destinations that remain.
        let mut dispatcher = Dispatcher::new(list, DispatcherConfig::default(), Instant::now());
        let kept = dispatcher
            .find(1, &kept_uri)
            .expect("listed");
        dispatcher
            .set_state(kept, DestinationState::Disabled)
            .expect("known destination");
        assert_eq!(source.delete(1, "sip:127.0.0.1:5081").await.expect("delete"), 1);
        source
            .insert(&row(1, "sip:127.0.0.1:5082", 0, 0, "weight=20"), "added")
            .await
            .expect("insert");
        let summary = dispatcher.reload(source.load().await.expect("reload"), Instant::now());
        assert_eq!((summary.kept, summary.added, summary.removed), (2, 1, 1));
        assert_eq!(dispatcher.state(kept), Some(DestinationState::Disabled));
        let uris: Vec<String> = dispatcher
            .snapshot()
            .set(1)
            .expect("set 1")
            .destinations
            .iter()
            .map(|d| d.uri.clone())
            .collect();
        assert_eq!(uris, ["sip:127.0.0.1:5080", "sip:127.0.0.1:5082"]);

        // A bad row fails the whole load, naming the row and the column.
        source
            .insert(&row(3, "not a uri", 0, 0, ""), "broken")
            .await
            .expect("insert");
        match source.load().await {
            Err(SourceError::List(e)) => {
                assert_eq!(e.line, 4, "{e}");
                assert_eq!(e.field, Some(Field::Destination), "{e}");
            }
            other => panic!("expected a list error, got {other:?}"),
        }
        assert_eq!(source.delete(3, "not a uri").await.expect("delete"), 1);
        // A negative set id is rejected by the row checks as in a file.
        source
            .insert(&row(-1, "sip:127.0.0.1:5090", 0, 0, ""), "negative")
            .await
            .expect("insert");
        assert!(matches!(source.load().await, Err(SourceError::List(_))));
        // Values that do not fit Kamailio's 32-bit columns are refused before reaching the database.
        assert!(matches!(
            source.insert(&row(1 << 40, "sip:127.0.0.1:5091", 0, 0, ""), "").await,
            Err(SourceError::OutOfRange("setid"))
        ));
        source
    }};
}

fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_table_loads_reloads_and_names_bad_rows() {
    use tandem_dispatcher::source::SqliteSource;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dispatcher.db");
    conformance!(SqliteSource::open(&path).await.expect("open SQLite"));
    // Opening again finds the migration done and the rows still there.
    let again = SqliteSource::open(&path).await.expect("reopen");
    assert_eq!(again.rows().await.expect("rows").len(), 4);
    // A reader that runs no DDL sees the same rows, and cannot create a missing database.
    let reader = SqliteSource::open_existing(&path)
        .await
        .expect("open read-only");
    assert_eq!(reader.rows().await.expect("rows").len(), 4);
    assert!(
        SqliteSource::open_existing(dir.path().join("missing.db"))
            .await
            .is_err()
    );
}

#[cfg(feature = "postgres")]
fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("DATABASE_URL is not set, and CI=true makes that a failure, not a skip")
        }
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n========== SKIPPED: DATABASE_URL not set ==========\n"
            );
            None
        }
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_table_loads_reloads_and_names_bad_rows() {
    use tandem_dispatcher::source::PostgresSource;
    let Some(url) = database_url() else {
        return;
    };
    let schema = unique_name("tandem_dispatcher_test");
    let source = PostgresSource::connect_in_schema(&url, &schema)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={url} is unreachable: {e}"));
    let source = conformance!(source);
    // The same schema reached through a search_path in the URL sees the same rows, and the migration,
    // tracked in its own table, does not run twice.
    let separator = if url.contains('?') { '&' } else { '?' };
    let by_url = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let second = PostgresSource::connect(&by_url)
        .await
        .expect("connect by URL");
    let reader = PostgresSource::connect_existing(&by_url)
        .await
        .expect("connect without DDL");
    assert_eq!(reader.rows().await.expect("rows").len(), 4);
    // Without DDL, a schema with no table is an error, not an empty list.
    let empty = format!("{url}{separator}options=-c%20search_path%3D{schema}_none");
    let missing = PostgresSource::connect_existing(&empty)
        .await
        .expect("connect");
    assert!(matches!(missing.load().await, Err(SourceError::Sql(_))));
    assert_eq!(second.rows().await.expect("rows").len(), 4);
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _tandem_dispatcher_migrations")
        .fetch_one(second.pool())
        .await
        .expect("count migrations");
    assert_eq!(migrations, 1);
    let drop = sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    sqlx::query(drop)
        .execute(source.pool())
        .await
        .expect("drop the test schema");
}

#[test]
fn rows_and_files_give_the_same_list() {
    // The loader relies on from_rows checking rows as the parser checks lines.
    let from_rows = DispatcherList::from_rows([
        row(1, "sip:127.0.0.1:5080", 0, 10, "weight=80"),
        row(1, "sip:127.0.0.1:5081", 0, 0, ""),
    ])
    .expect("rows");
    let from_file: DispatcherList = "1 sip:127.0.0.1:5080 0 10 weight=80\n1 sip:127.0.0.1:5081\n"
        .parse()
        .expect("file");
    assert_eq!(from_rows, from_file);
}
