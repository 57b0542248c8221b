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

impl Loader<SourceId> for Lookups {
    type Value = alert_source::Model;
    type Error = LoadFailed;
    async fn load(&self, keys: &[SourceId]) -> Result<HashMap<SourceId, Self::Value>, LoadFailed> {
        let rows = lookup::sources(&self.db, &ids(keys, |k| &k.0))
            .await
            .map_err(failed)?;
        Ok(rows
            .into_iter()
            .map(|r| (SourceId(r.id.clone()), r))
            .collect())
    }
}

impl Loader<PolicyId> for Lookups {
    type Value = escalation_policy::Model;
    type Error = LoadFailed;
    async fn load(&self, keys: &[PolicyId]) -> Result<HashMap<PolicyId, Self::Value>, LoadFailed> {
        let rows = lookup::policies(&self.db, &ids(keys, |k| &k.0))
            .await
            .map_err(failed)?;
        Ok(rows
            .into_iter()
            .map(|r| (PolicyId(r.id.clone()), r))
            .collect())
    }
}

impl Loader<UserId> for Lookups {
    type Value = user::Model;
    type Error = LoadFailed;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, LoadFailed> {
        let rows = lookup::users(&self.db, &ids(keys, |k| &k.0))
            .await
            .map_err(failed)?;
        Ok(rows
            .into_iter()
            .map(|r| (UserId(r.id.clone()), r))
            .collect())
    }
}

impl Loader<RespondersOf> for Lookups {
    type Value = Vec<user::Model>;
    type Error = LoadFailed;
    async fn load(
        &self,
        keys: &[RespondersOf],
    ) -> Result<HashMap<RespondersOf, Self::Value>, LoadFailed> {
        let mut by_alert = lookup::responders(&self.db, &ids(keys, |k| &k.0))
            .await
            .map_err(failed)?;
        Ok(keys
            .iter()
            .map(|k| (k.clone(), by_alert.remove(&k.0).unwrap_or_default()))
            .collect())
    }
}

impl Loader<CommentsOf> for Lookups {
    type Value = Vec<alert_comment::Model>;
    type Error = LoadFailed;
    async fn load(
        &self,
        keys: &[CommentsOf],
    ) -> Result<HashMap<CommentsOf, Self::Value>, LoadFailed> {
        let mut by_alert = lookup::comments(&self.db, &ids(keys, |k| &k.0))
            .await
            .map_err(failed)?;
        Ok(keys
            .iter()
            .map(|k| (k.clone(), by_alert.remove(&k.0).unwrap_or_default()))
            .collect())
    }
}
