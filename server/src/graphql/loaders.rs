//! DataLoaders: the nested fields of a page of alerts (source, policy, assignee, responders,
//! comments) are read with one query per kind for the whole page, not one per alert. The ticket
//! needs none: it is part of the alert's row.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};

use crate::db::Db;
use crate::entity::{alert_comment, alert_source, escalation_policy, user};
use crate::error::AppError;
use crate::service::lookup;

/// Reads what the loaders batch; every key kind below is one `Loader` impl.
pub struct Lookups {
    db: Db,
}

pub fn data_loader(db: Db) -> DataLoader<Lookups> {
    DataLoader::new(Lookups { db }, tokio::spawn)
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SourceId(pub String);
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PolicyId(pub String);
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserId(pub String);
/// The responders of this alert.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RespondersOf(pub String);
/// The comments of this alert.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CommentsOf(pub String);

/// A loader's error must be cloneable: the cause is logged here, the caller sees "internal error".
#[derive(Clone)]
pub struct LoadFailed;

impl From<LoadFailed> for AppError {
    fn from(_: LoadFailed) -> Self {
        AppError::Unexpected(anyhow::anyhow!("a batched read failed (logged above)"))
    }
}

fn failed(e: AppError) -> LoadFailed {
    tracing::error!(error = %e, "batched read failed");
    LoadFailed
}

fn ids<K, F: Fn(&K) -> &String>(keys: &[K], f: F) -> Vec<String> {
    keys.iter().map(|k| f(k).clone()).collect()
}

/// A loader of rows by their id: `lookup` reads them all in one query.
macro_rules! by_id {
    ($key:ident, $model:ty, $lookup:path) => {
        impl Loader<$key> for Lookups {
            type Value = $model;
            type Error = LoadFailed;
            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $model>, LoadFailed> {
                let rows = $lookup(&self.db, &ids(keys, |k| &k.0))
                    .await
                    .map_err(failed)?;
                Ok(rows.into_iter().map(|r| ($key(r.id.clone()), r)).collect())
            }
        }
    };
}

/// A loader of each alert's list: `lookup` reads the lists of all the alerts in one go; an alert
/// without rows gets an empty list.
macro_rules! per_alert {
    ($key:ident, $model:ty, $lookup:path) => {
        impl Loader<$key> for Lookups {
            type Value = Vec<$model>;
            type Error = LoadFailed;
            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Vec<$model>>, LoadFailed> {
                let mut by_alert = $lookup(&self.db, &ids(keys, |k| &k.0))
                    .await
                    .map_err(failed)?;
                Ok(keys
                    .iter()
                    .map(|k| (k.clone(), by_alert.remove(&k.0).unwrap_or_default()))
                    .collect())
            }
        }
    };
}

by_id!(SourceId, alert_source::Model, lookup::sources);
by_id!(PolicyId, escalation_policy::Model, lookup::policies);
by_id!(UserId, user::Model, lookup::users);
per_alert!(RespondersOf, user::Model, lookup::responders);
per_alert!(CommentsOf, alert_comment::Model, lookup::comments);
