//! What the SQLite and PostgreSQL stores share: the statements (plain SQL both accept, `$n` placeholders
//! numbered in order of appearance) and the trait implementations, written once as a macro because sqlx's
//! generic-over-database bounds would cost more text than the duplication they save.
//!
//! Tables (see `migrations/`): `registrar_location` holds one row per binding, keyed by `(aor, binding_key)`
//! and indexed by `expires_at` for the sweep; `registrar_credential` one row per HA1, keyed by
//! `(username, realm, algorithm)`.

pub(crate) const SELECT_BINDINGS: &str = "SELECT aor, binding_key, contact, expires_at, q, call_id, \
     cseq, instance, reg_id, path, flow_token, flow_transport, flow_remote, user_agent \
     FROM registrar_location WHERE aor = $1 AND expires_at > $2";

pub(crate) const UPSERT_BINDING: &str = "INSERT INTO registrar_location (aor, binding_key, contact, \
     expires_at, q, call_id, cseq, instance, reg_id, path, flow_token, flow_transport, flow_remote, \
     user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     ON CONFLICT (aor, binding_key) DO UPDATE SET contact = excluded.contact, \
     expires_at = excluded.expires_at, q = excluded.q, call_id = excluded.call_id, cseq = excluded.cseq, \
     instance = excluded.instance, reg_id = excluded.reg_id, path = excluded.path, \
     flow_token = excluded.flow_token, flow_transport = excluded.flow_transport, \
     flow_remote = excluded.flow_remote, user_agent = excluded.user_agent";

pub(crate) const DELETE_BINDING: &str =
    "DELETE FROM registrar_location WHERE aor = $1 AND binding_key = $2";

pub(crate) const SWEEP: &str = "DELETE FROM registrar_location WHERE expires_at <= $1";

pub(crate) const SELECT_AORS: &str =
    "SELECT DISTINCT aor FROM registrar_location WHERE expires_at > $1";

pub(crate) const COUNT_BINDINGS: &str =
    "SELECT COUNT(*) FROM registrar_location WHERE expires_at > $1";

pub(crate) const SELECT_HA1: &str = "SELECT ha1 FROM registrar_credential \
     WHERE username = $1 AND realm = $2 AND algorithm = $3";

pub(crate) const DELETE_CREDENTIAL: &str =
    "DELETE FROM registrar_credential WHERE username = $1 AND realm = $2";

pub(crate) const INSERT_HA1: &str =
    "INSERT INTO registrar_credential (username, realm, algorithm, ha1) VALUES ($1, $2, $3, $4)";

/// `LocationStore` and `CredentialStore` for a store type with a `pool` field of an sqlx pool.
macro_rules! sql_store {
    ($store:ty) => {
        impl $crate::store::LocationStore for $store {
            async fn bindings(
                &self,
                aor: &$crate::Aor,
                now: std::time::SystemTime,
            ) -> Result<Vec<$crate::Binding>, $crate::Error> {
                let records: Vec<$crate::store::record::BindingRecord> =
                    sqlx::query_as($crate::store::sql::SELECT_BINDINGS)
                        .bind(aor.as_str())
                        .bind($crate::binding::unix_millis(now))
                        .fetch_all(&self.pool)
                        .await?;
                let mut bindings = records
                    .into_iter()
                    .map($crate::store::record::BindingRecord::into_binding)
                    .collect::<Result<Vec<_>, _>>()?;
                $crate::order_by_q(&mut bindings);
                Ok(bindings)
            }

            async fn apply(
                &self,
                aor: &$crate::Aor,
                changes: &[$crate::BindingChange],
            ) -> Result<(), $crate::Error> {
                let mut tx = self.pool.begin().await?;
                for change in changes {
                    match change {
                        $crate::BindingChange::Upsert(binding) => {
                            let r = $crate::store::record::BindingRecord::new(aor, binding);
                            sqlx::query($crate::store::sql::UPSERT_BINDING)
                                .bind(r.aor)
                                .bind(r.binding_key)
                                .bind(r.contact)
                                .bind(r.expires_at)
                                .bind(r.q)
                                .bind(r.call_id)
                                .bind(r.cseq)
                                .bind(r.instance)
                                .bind(r.reg_id)
                                .bind(r.path)
                                .bind(r.flow_token)
                                .bind(r.flow_transport)
                                .bind(r.flow_remote)
                                .bind(r.user_agent)
                                .execute(&mut *tx)
                                .await?;
                        }
                        $crate::BindingChange::Remove(key) => {
                            sqlx::query($crate::store::sql::DELETE_BINDING)
                                .bind(aor.as_str())
                                .bind(key.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn sweep(&self, now: std::time::SystemTime) -> Result<usize, $crate::Error> {
                let done = sqlx::query($crate::store::sql::SWEEP)
                    .bind($crate::binding::unix_millis(now))
                    .execute(&self.pool)
                    .await?;
                Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
            }

            async fn aors(
                &self,
                now: std::time::SystemTime,
            ) -> Result<Vec<$crate::Aor>, $crate::Error> {
                let rows: Vec<String> = sqlx::query_scalar($crate::store::sql::SELECT_AORS)
                    .bind($crate::binding::unix_millis(now))
                    .fetch_all(&self.pool)
                    .await?;
                let mut aors = rows
                    .iter()
                    .map(|text| {
                        $crate::Aor::parse(text).map_err(|e| $crate::Error::corrupt("AOR", e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                // Sorted here, not in SQL: database collations need not sort like Rust strings.
                aors.sort();
                Ok(aors)
            }

            async fn binding_count(
                &self,
                now: std::time::SystemTime,
            ) -> Result<usize, $crate::Error> {
                let count: i64 = sqlx::query_scalar($crate::store::sql::COUNT_BINDINGS)
                    .bind($crate::binding::unix_millis(now))
                    .fetch_one(&self.pool)
                    .await?;
                Ok(usize::try_from(count).unwrap_or(0))
            }
        }

        impl $crate::store::CredentialStore for $store {
            async fn ha1(
                &self,
                username: &str,
                realm: &str,
                algorithm: $crate::DigestAlgorithm,
            ) -> Result<Option<$crate::Ha1>, $crate::Error> {
                let hex: Option<String> = sqlx::query_scalar($crate::store::sql::SELECT_HA1)
                    .bind(username)
                    .bind(realm)
                    .bind(algorithm.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                hex.map(|hex| {
                    $crate::Ha1::new(algorithm, &hex).map_err(|e| $crate::Error::corrupt("HA1", e))
                })
                .transpose()
            }

            async fn put_credential(
                &self,
                credential: &$crate::Credential,
            ) -> Result<(), $crate::Error> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::sql::DELETE_CREDENTIAL)
                    .bind(credential.username())
                    .bind(credential.realm())
                    .execute(&mut *tx)
                    .await?;
                for ha1 in credential.ha1_values() {
                    sqlx::query($crate::store::sql::INSERT_HA1)
                        .bind(credential.username())
                        .bind(credential.realm())
                        .bind(ha1.algorithm().as_str())
                        .bind(ha1.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn remove_credential(
                &self,
                username: &str,
                realm: &str,
            ) -> Result<bool, $crate::Error> {
                let done = sqlx::query($crate::store::sql::DELETE_CREDENTIAL)
                    .bind(username)
                    .bind(realm)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use sql_store;
