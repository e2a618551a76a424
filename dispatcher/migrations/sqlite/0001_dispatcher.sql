-- Destination sets with the columns of Kamailio's `dispatcher` table, so an existing table can be used as is.
-- Rows are loaded in `id` order (the list order of a dispatcher.list file).
CREATE TABLE IF NOT EXISTS dispatcher (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    setid       INTEGER NOT NULL DEFAULT 0,
    destination TEXT    NOT NULL DEFAULT '',
    flags       INTEGER NOT NULL DEFAULT 0,
    priority    INTEGER NOT NULL DEFAULT 0,
    attrs       TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT ''
);
