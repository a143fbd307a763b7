//! Where a migration is (`migrate status`), its sides as Druid reports them, and the SQL view
//! over both datasources (`migrate sql`).

use schema_registry::Version;

use super::{MigrationStatus, Placement, SideStatus};
use crate::session::Session;
use crate::{Error, Result};

impl Session {
    /// Where the migration is: the registry's record, both supervisors as Druid reports them,
    /// and every state it went through.
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        let state = self.environment_state().await?;
        let mut sides = Vec::new();
        if let Some(migration) = state.as_ref().and_then(|state| state.migration.as_ref()) {
            for (side, placement) in [("old", &migration.old), ("new", &migration.new)] {
                sides.push(self.side_status(side, placement).await);
            }
        }
        Ok(MigrationStatus {
            environment: self.environment.name.clone(),
            history: self.ledger.migrations(&self.environment.name).await?,
            state,
            sides,
        })
    }

    /// The old side of the open migration as Druid reports it (`status`, `monitor`, `plan`
    /// show it beside the current side).
    pub async fn old_side(&self) -> Result<Option<SideStatus>> {
        let Some(migration) =
            self.environment_state().await?.and_then(|state| state.open_migration().cloned())
        else {
            return Ok(None);
        };
        Ok(Some(self.side_status("old", &migration.old).await))
    }

    /// One side as Druid reports it (a terminated supervisor says so).
    pub(crate) async fn side_status(&self, side: &'static str, placement: &Placement) -> SideStatus {
        let (ingestion, error) = match self.ingestion_of(&placement.supervisor).await {
            Ok(ingestion) => (Some(ingestion), None),
            Err(Error::NoSupervisor { .. }) => (None, Some("no such supervisor (terminated)".to_owned())),
            Err(err) => (None, Some(err.to_string())),
        };
        SideStatus { side, placement: placement.clone(), ingestion, error }
    }

    /// The `UNION ALL` reading the open (or last) migration's old and new datasources in the
    /// new columns (renamed fields aliased, retyped columns cast).
    pub async fn migration_sql(&self) -> Result<druid_mapping::migration::UnionView> {
        let environment = self.environment.name.clone();
        let Some(migration) = self.environment_state().await?.and_then(|state| state.migration) else {
            return Err(Error::NoMigration { environment });
        };
        let (Some(old_version), Some(new_version)) = (&migration.old.version, &migration.new.version) else {
            return Err(Error::Migration {
                environment: environment.clone(),
                reason: "the migration does not record both versions".into(),
                way_out: "deploy the new side once; the deploy records its version".into(),
            });
        };
        let old = crate::publish::baseline(&self.registry, &Version::parse(old_version)?).await?;
        let new = crate::publish::baseline(&self.registry, &Version::parse(new_version)?).await?;
        let old_message = old.schema.message(&old.message_type)?;
        let new_message = new.schema.message(&new.message_type)?;
        Ok(druid_mapping::migration::union_all(
            &druid_mapping::migration::Side {
                datasource: &migration.old.datasource,
                dimensions: &old.dimensions,
                message: &old_message,
            },
            &druid_mapping::migration::Side {
                datasource: &migration.new.datasource,
                dimensions: &new.dimensions,
                message: &new_message,
            },
        ))
    }
}
