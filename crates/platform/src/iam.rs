//! Who may do what inside a tenant: groups of accounts, stored policy documents attached to
//! accounts and groups, and [`Platform::authorize`], which every guarded route calls through
//! the route table. Root may do everything in its tenant and nothing outside it; a
//! sub-account what its own and its groups' policies allow (default deny, explicit deny wins);
//! an API key what its account may *and* its scope allows.

use crate::{
    accounts::{AccountKind, AccountsError, Platform, Principal, check_name, exists_or},
    ids::{GroupId, PolicyId, TenantId},
    page::{ListQuery, Page},
    policy::{Action, Decision, PolicyDocument, evaluate},
    store::now_ms,
};

/// Why a caller may not do something. The message names the action and the resource, so the
/// caller knows exactly which permission to ask for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{actor} may not {action} on {resource}: {reason}")]
pub struct Forbidden {
    pub actor: String,
    pub action: Action,
    pub resource: String,
    pub reason: ForbiddenReason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForbiddenReason {
    #[error(
        "no policy attached to the account or its groups allows it; ask your tenant's root account for a policy that does"
    )]
    NotAllowed,
    #[error("a policy denies it explicitly{}", sid.as_ref().map(|s| format!(" (statement {s})")).unwrap_or_default())]
    Denied { sid: Option<String> },
    #[error("the API key's scope does not allow it; create a key whose scope does")]
    OutsideKeyScope,
}

/// A group of a tenant, as listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Group {
    #[schema(value_type = String)]
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

/// A group with its members and attached policies.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub group: Group,
    pub members: Vec<String>,
    pub policies: Vec<String>,
}

/// A stored policy.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Policy {
    #[schema(value_type = String)]
    pub id: PolicyId,
    pub name: String,
    pub description: String,
    pub document: PolicyDocument,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A policy with the accounts and groups it is attached to.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PolicyDetail {
    #[serde(flatten)]
    pub policy: Policy,
    pub accounts: Vec<String>,
    pub groups: Vec<String>,
}

/// What a policy is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Account,
    Group,
}

const MAX_DESCRIPTION: usize = 1000;

fn check_description(description: &str) -> Result<(), AccountsError> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(AccountsError::Invalid(format!(
            "the description is longer than {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(())
}

fn check_document(document: &PolicyDocument) -> Result<String, AccountsError> {
    document
        .validate()
        .map_err(|e| AccountsError::Invalid(format!("the policy document is not valid: {e}")))?;
    serde_json::to_string(document)
        .map_err(|e| AccountsError::Invalid(format!("the policy document is not valid: {e}")))
}

fn parse_document(stored: &str) -> Result<PolicyDocument, AccountsError> {
    serde_json::from_str(stored)
        .map_err(|e| AccountsError::Corrupt(format!("stored policy document: {e}")))
}

fn not_found(what: &'static str, name: &str) -> AccountsError {
    AccountsError::NotFound {
        what,
        name: name.to_owned(),
    }
}

impl Platform {
    /// Whether `caller` may do `action` on `resource` (a name like `account/alice`) in its
    /// own tenant. Routes reach this through the route table, which knows each one's action.
    pub async fn authorize(
        &self,
        caller: &Principal,
        action: Action,
        resource: &str,
    ) -> Result<(), AccountsError> {
        caller.tenant()?;
        let forbidden = |reason| Forbidden {
            actor: caller.actor(),
            action,
            resource: resource.to_owned(),
            reason,
        };
        if let Some(scope) = &caller.scope {
            match evaluate([scope], action, resource) {
                Decision::Allowed => {}
                Decision::NotAllowed => {
                    return Err(forbidden(ForbiddenReason::OutsideKeyScope).into());
                }
                Decision::Denied { sid } => {
                    return Err(forbidden(ForbiddenReason::Denied { sid }).into());
                }
            }
        }
        if caller.kind == AccountKind::Root {
            return Ok(());
        }
        let documents = self.documents_of(caller).await?;
        match evaluate(&documents, action, resource) {
            Decision::Allowed => Ok(()),
            Decision::NotAllowed => Err(forbidden(ForbiddenReason::NotAllowed).into()),
            Decision::Denied { sid } => Err(forbidden(ForbiddenReason::Denied { sid }).into()),
        }
    }

    /// Self-service (one's own session, account and password): allowed to every account
    /// unless one of its policies denies it explicitly.
    pub async fn authorize_self(
        &self,
        caller: &Principal,
        action: Action,
        resource: &str,
    ) -> Result<(), AccountsError> {
        let forbidden = |reason| Forbidden {
            actor: caller.actor(),
            action,
            resource: resource.to_owned(),
            reason,
        };
        if let Some(scope) = &caller.scope
            && let Decision::Denied { sid } = evaluate([scope], action, resource)
        {
            return Err(forbidden(ForbiddenReason::Denied { sid }).into());
        }
        if caller.kind != AccountKind::Sub {
            return Ok(());
        }
        let documents = self.documents_of(caller).await?;
        match evaluate(&documents, action, resource) {
            Decision::Denied { sid } => Err(forbidden(ForbiddenReason::Denied { sid }).into()),
            Decision::Allowed | Decision::NotAllowed => Ok(()),
        }
    }

    /// Every policy document that applies to a sub-account: its own and its groups'.
    async fn documents_of(&self, caller: &Principal) -> Result<Vec<PolicyDocument>, AccountsError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT p.document FROM account_policies ap JOIN policies p ON p.id = ap.policy_id \
             WHERE ap.account_id = $1 \
             UNION ALL \
             SELECT p.document FROM group_members m \
             JOIN group_policies gp ON gp.group_id = m.group_id \
             JOIN policies p ON p.id = gp.policy_id WHERE m.account_id = $1",
        )
        .bind(caller.account_id.as_str())
        .fetch_all(self.store().pool())
        .await?;
        rows.iter().map(|(d,)| parse_document(d)).collect()
    }

    pub async fn create_group(
        &self,
        tenant: &TenantId,
        name: &str,
        description: &str,
    ) -> Result<Group, AccountsError> {
        check_name("group", name)?;
        check_description(description)?;
        let group = Group {
            id: GroupId::generate(),
            name: name.to_owned(),
            description: description.to_owned(),
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO groups (id, tenant_id, name, description, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(group.id.as_str())
        .bind(tenant.as_str())
        .bind(&group.name)
        .bind(&group.description)
        .bind(group.created_at)
        .execute(self.store().pool())
        .await
        .map_err(|e| exists_or(e, "group", name))?;
        Ok(group)
    }

    pub async fn groups(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<Group>, AccountsError> {
        let limit = query.limit().map_err(AccountsError::Invalid)?;
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT id, name, description, created_at FROM groups \
             WHERE tenant_id = $1 AND name > $2 AND name LIKE $3 ESCAPE '\\' \
             ORDER BY name LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(query.after())
        .bind(query.like())
        .bind(i64::from(limit) + 1)
        .fetch_all(self.store().pool())
        .await?;
        let groups = rows
            .into_iter()
            .map(|(id, name, description, created_at)| Group {
                id: GroupId::from_stored(id),
                name,
                description,
                created_at,
            })
            .collect();
        Ok(Page::from_rows(groups, limit, |g| g.name.clone()))
    }

    async fn group_row(&self, tenant: &TenantId, name: &str) -> Result<Group, AccountsError> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT id, name, description, created_at FROM groups \
             WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant.as_str())
        .bind(name)
        .fetch_optional(self.store().pool())
        .await?;
        let (id, name, description, created_at) = row.ok_or_else(|| not_found("group", name))?;
        Ok(Group {
            id: GroupId::from_stored(id),
            name,
            description,
            created_at,
        })
    }

    pub async fn group(&self, tenant: &TenantId, name: &str) -> Result<GroupDetail, AccountsError> {
        let group = self.group_row(tenant, name).await?;
        let members: Vec<(String,)> = sqlx::query_as(
            "SELECT a.name FROM group_members m JOIN accounts a ON a.id = m.account_id \
             WHERE m.group_id = $1 ORDER BY a.name",
        )
        .bind(group.id.as_str())
        .fetch_all(self.store().pool())
        .await?;
        let policies: Vec<(String,)> = sqlx::query_as(
            "SELECT p.name FROM group_policies gp JOIN policies p ON p.id = gp.policy_id \
             WHERE gp.group_id = $1 ORDER BY p.name",
        )
        .bind(group.id.as_str())
        .fetch_all(self.store().pool())
        .await?;
        Ok(GroupDetail {
            group,
            members: members.into_iter().map(|(m,)| m).collect(),
            policies: policies.into_iter().map(|(p,)| p).collect(),
        })
    }

    /// Deletes a group; its members lose what its policies granted them.
    pub async fn delete_group(&self, tenant: &TenantId, name: &str) -> Result<(), AccountsError> {
        let group = self.group_row(tenant, name).await?;
        let mut tx = self.store().pool().begin().await?;
        for table in ["group_members", "group_policies"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE group_id = $1"))
                .bind(group.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(group.id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds an account to a group (adding a member twice is harmless).
    pub async fn add_member(
        &self,
        tenant: &TenantId,
        group: &str,
        account: &str,
    ) -> Result<(), AccountsError> {
        let group = self.group_row(tenant, group).await?;
        let account = self.account_row(tenant, account).await?;
        if account.kind != AccountKind::Sub {
            return Err(AccountsError::Invalid(
                "the root account may already do everything in its tenant: only sub-accounts join groups".into(),
            ));
        }
        let already: Option<(i64,)> = sqlx::query_as(
            "SELECT added_at FROM group_members WHERE group_id = $1 AND account_id = $2",
        )
        .bind(group.id.as_str())
        .bind(account.id.as_str())
        .fetch_optional(self.store().pool())
        .await?;
        if already.is_none() {
            sqlx::query(
                "INSERT INTO group_members (group_id, account_id, added_at) VALUES ($1, $2, $3)",
            )
            .bind(group.id.as_str())
            .bind(account.id.as_str())
            .bind(now_ms())
            .execute(self.store().pool())
            .await
            .map_err(|e| exists_or(e, "membership of", &account.name))?;
        }
        Ok(())
    }

    pub async fn remove_member(
        &self,
        tenant: &TenantId,
        group: &str,
        account: &str,
    ) -> Result<(), AccountsError> {
        let group_row = self.group_row(tenant, group).await?;
        let account_row = self.account_row(tenant, account).await?;
        let removed =
            sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND account_id = $2")
                .bind(group_row.id.as_str())
                .bind(account_row.id.as_str())
                .execute(self.store().pool())
                .await?;
        if removed.rows_affected() == 0 {
            return Err(AccountsError::NotFound {
                what: "member",
                name: format!("{account} of group {group}"),
            });
        }
        Ok(())
    }

    pub async fn create_policy(
        &self,
        tenant: &TenantId,
        name: &str,
        description: &str,
        document: &PolicyDocument,
    ) -> Result<Policy, AccountsError> {
        check_name("policy", name)?;
        check_description(description)?;
        let text = check_document(document)?;
        let now = now_ms();
        let policy = Policy {
            id: PolicyId::generate(),
            name: name.to_owned(),
            description: description.to_owned(),
            document: document.clone(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO policies (id, tenant_id, name, description, document, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(policy.id.as_str())
        .bind(tenant.as_str())
        .bind(&policy.name)
        .bind(&policy.description)
        .bind(text)
        .bind(now)
        .bind(now)
        .execute(self.store().pool())
        .await
        .map_err(|e| exists_or(e, "policy", name))?;
        Ok(policy)
    }

    pub async fn policies(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<Policy>, AccountsError> {
        let limit = query.limit().map_err(AccountsError::Invalid)?;
        let rows: Vec<PolicyRow> = sqlx::query_as(
            "SELECT id, name, description, document, created_at, updated_at FROM policies \
             WHERE tenant_id = $1 AND name > $2 AND name LIKE $3 ESCAPE '\\' \
             ORDER BY name LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(query.after())
        .bind(query.like())
        .bind(i64::from(limit) + 1)
        .fetch_all(self.store().pool())
        .await?;
        let policies = rows
            .into_iter()
            .map(policy_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(policies, limit, |p| p.name.clone()))
    }

    async fn policy_row(&self, tenant: &TenantId, name: &str) -> Result<Policy, AccountsError> {
        let row: Option<PolicyRow> = sqlx::query_as(
            "SELECT id, name, description, document, created_at, updated_at FROM policies \
             WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant.as_str())
        .bind(name)
        .fetch_optional(self.store().pool())
        .await?;
        policy_from_row(row.ok_or_else(|| not_found("policy", name))?)
    }

    pub async fn policy(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<PolicyDetail, AccountsError> {
        let policy = self.policy_row(tenant, name).await?;
        let (accounts, groups) = self.attachments(&policy.id).await?;
        Ok(PolicyDetail {
            policy,
            accounts,
            groups,
        })
    }

    async fn attachments(
        &self,
        policy: &PolicyId,
    ) -> Result<(Vec<String>, Vec<String>), AccountsError> {
        let accounts: Vec<(String,)> = sqlx::query_as(
            "SELECT a.name FROM account_policies ap JOIN accounts a ON a.id = ap.account_id \
             WHERE ap.policy_id = $1 ORDER BY a.name",
        )
        .bind(policy.as_str())
        .fetch_all(self.store().pool())
        .await?;
        let groups: Vec<(String,)> = sqlx::query_as(
            "SELECT g.name FROM group_policies gp JOIN groups g ON g.id = gp.group_id \
             WHERE gp.policy_id = $1 ORDER BY g.name",
        )
        .bind(policy.as_str())
        .fetch_all(self.store().pool())
        .await?;
        Ok((
            accounts.into_iter().map(|(a,)| a).collect(),
            groups.into_iter().map(|(g,)| g).collect(),
        ))
    }

    /// Replaces a policy's document (and description); it applies from the next request on.
    pub async fn update_policy(
        &self,
        tenant: &TenantId,
        name: &str,
        description: Option<&str>,
        document: &PolicyDocument,
    ) -> Result<Policy, AccountsError> {
        let policy = self.policy_row(tenant, name).await?;
        let text = check_document(document)?;
        let description = description.unwrap_or(&policy.description);
        check_description(description)?;
        sqlx::query(
            "UPDATE policies SET document = $1, description = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(text)
        .bind(description)
        .bind(now_ms())
        .bind(policy.id.as_str())
        .execute(self.store().pool())
        .await?;
        self.policy_row(tenant, name).await
    }

    /// Deletes a policy attached nowhere; an attached one is refused with where it is.
    pub async fn delete_policy(&self, tenant: &TenantId, name: &str) -> Result<(), AccountsError> {
        let policy = self.policy_row(tenant, name).await?;
        let (accounts, groups) = self.attachments(&policy.id).await?;
        if !accounts.is_empty() || !groups.is_empty() {
            return Err(AccountsError::Conflict(format!(
                "policy {name:?} is attached to accounts {accounts:?} and groups {groups:?}: detach it first"
            )));
        }
        sqlx::query("DELETE FROM policies WHERE id = $1")
            .bind(policy.id.as_str())
            .execute(self.store().pool())
            .await?;
        Ok(())
    }

    /// Attaches policy `policy` to the account or group `holder_name` (twice is harmless).
    pub async fn attach_policy(
        &self,
        tenant: &TenantId,
        holder: Holder,
        holder_name: &str,
        policy: &str,
    ) -> Result<(), AccountsError> {
        let (table, column, holder_id) = self.holder(tenant, holder, holder_name).await?;
        let policy = self.policy_row(tenant, policy).await?;
        let already: Option<(i64,)> = sqlx::query_as(&format!(
            "SELECT attached_at FROM {table} WHERE {column} = $1 AND policy_id = $2"
        ))
        .bind(&holder_id)
        .bind(policy.id.as_str())
        .fetch_optional(self.store().pool())
        .await?;
        if already.is_none() {
            sqlx::query(&format!(
                "INSERT INTO {table} ({column}, policy_id, attached_at) VALUES ($1, $2, $3)"
            ))
            .bind(&holder_id)
            .bind(policy.id.as_str())
            .bind(now_ms())
            .execute(self.store().pool())
            .await
            .map_err(|e| exists_or(e, "attachment of policy", &policy.name))?;
        }
        Ok(())
    }

    pub async fn detach_policy(
        &self,
        tenant: &TenantId,
        holder: Holder,
        holder_name: &str,
        policy: &str,
    ) -> Result<(), AccountsError> {
        let (table, column, holder_id) = self.holder(tenant, holder, holder_name).await?;
        let policy_row = self.policy_row(tenant, policy).await?;
        let removed = sqlx::query(&format!(
            "DELETE FROM {table} WHERE {column} = $1 AND policy_id = $2"
        ))
        .bind(&holder_id)
        .bind(policy_row.id.as_str())
        .execute(self.store().pool())
        .await?;
        if removed.rows_affected() == 0 {
            return Err(AccountsError::NotFound {
                what: "attachment",
                name: format!("{policy} on {holder_name}"),
            });
        }
        Ok(())
    }

    /// The attachment table, its holder column and the holder's id.
    async fn holder(
        &self,
        tenant: &TenantId,
        holder: Holder,
        name: &str,
    ) -> Result<(&'static str, &'static str, String), AccountsError> {
        Ok(match holder {
            Holder::Account => {
                let account = self.account_row(tenant, name).await?;
                if account.kind != AccountKind::Sub {
                    return Err(AccountsError::Invalid(
                        "the root account may already do everything in its tenant: attach policies to sub-accounts and groups".into(),
                    ));
                }
                (
                    "account_policies",
                    "account_id",
                    account.id.as_str().to_owned(),
                )
            }
            Holder::Group => {
                let group = self.group_row(tenant, name).await?;
                ("group_policies", "group_id", group.id.as_str().to_owned())
            }
        })
    }
}

type PolicyRow = (String, String, String, String, i64, i64);

fn policy_from_row(
    (id, name, description, document, created_at, updated_at): PolicyRow,
) -> Result<Policy, AccountsError> {
    Ok(Policy {
        id: PolicyId::from_stored(id),
        name,
        description,
        document: parse_document(&document)?,
        created_at,
        updated_at,
    })
}
