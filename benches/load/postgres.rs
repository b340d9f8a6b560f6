//! PostgreSQL databases: one fresh database per server, dropped afterwards, made from the admin
//! URL in `BISIK_BENCH_PG_URL`.

use anyhow::{Result, anyhow};
use sqlx::Connection;
use std::time::Duration;

pub struct Pg {
    admin: String,
    base: String,
    made: Vec<String>,
}

impl Pg {
    pub async fn reachable(admin: &str) -> Result<Pg> {
        let mut c = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::postgres::PgConnection::connect(admin),
        )
        .await
        .map_err(|_| anyhow!("timed out connecting to {admin}"))??;
        sqlx::query("SELECT 1").execute(&mut c).await?;
        c.close().await?;
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .ok_or_else(|| anyhow!("BISIK_BENCH_PG_URL has no database path"))?;
        Ok(Pg {
            admin: admin.into(),
            base,
            made: Vec::new(),
        })
    }

    pub async fn fresh(&mut self, label: &str) -> Result<String> {
        let name = format!(
            "bisik_bench_{}_{}_{}",
            std::process::id(),
            label,
            self.made.len()
        );
        let mut c = sqlx::postgres::PgConnection::connect(&self.admin).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut c)
        .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await?;
        c.close().await?;
        self.made.push(name.clone());
        Ok(format!("{}/{name}", self.base))
    }

    pub async fn drop_all(&mut self) {
        let Ok(mut c) = sqlx::postgres::PgConnection::connect(&self.admin).await else {
            eprintln!(
                "could not reconnect to drop bench databases {:?}",
                self.made
            );
            return;
        };
        for name in self.made.drain(..) {
            if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut c)
            .await
            {
                eprintln!("could not drop {name}: {e}");
            }
        }
        let _ = c.close().await;
    }
}

/// A fresh PostgreSQL database URL, or None for SQLite (the server then uses ./data).
pub async fn fresh_url(pg: &mut Option<&mut Pg>, label: &str) -> Result<Option<String>> {
    match pg.as_deref_mut() {
        Some(p) => p.fresh(label).await.map(Some),
        None => Ok(None),
    }
}
