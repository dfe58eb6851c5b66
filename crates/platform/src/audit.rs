//! The audit log: one entry per write (who, tenant, action, resource, source address, request
//! id, result), written *before* the write runs and completed after it, so no write can happen
//! without its entry; queried and exported by each tenant for its own entries only.
//! Entries hold names and ids, never secrets: the API layer gives this module nothing else.

use crate::{
    accounts::{AccountsError, Platform},
    ids::{self, TenantId},
    page::{MAX_LIMIT, Page},
    store::now_ms,
};
use serde::{Deserialize, Serialize};

/// How a write ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done (2xx).
    Ok,
    /// Refused for want of credentials or permission (401, 403).
    Denied,
    /// Refused as invalid or failed otherwise (other 4xx, 5xx), or never answered: status 0
    /// marks a write whose entry was written before it ran and whose platform stopped before
    /// answering (the write may or may not have happened).
    Failed,
}

impl Outcome {
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Outcome::Ok,
            401 | 403 => Outcome::Denied,
            _ => Outcome::Failed,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    fn parse(stored: &str) -> Result<Self, AccountsError> {
        match stored {
            "ok" => Ok(Outcome::Ok),
            "denied" => Ok(Outcome::Denied),
            "failed" => Ok(Outcome::Failed),
            other => Err(AccountsError::Corrupt(format!("audit result {other:?}"))),
        }
    }
}

/// One entry.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Time-ordered: later entries have greater ids.
    pub id: String,
    /// Unix milliseconds.
    pub at: i64,
    /// `tenant/account`, `operator/admin`, with the API key if one was used; for a refused
    /// sign-in, the name that was tried.
    pub actor: String,
    /// `session`, `apikey:<id>`, or `none`.
    pub credential: String,
    pub action: String,
    pub resource: String,
    pub method: String,
    pub path: String,
    /// The client's address as the platform saw it.
    pub source: String,
    pub request_id: String,
    pub status: i64,
    pub result: Outcome,
}

/// What the API layer records about a write.
#[derive(Clone, Debug)]
pub struct NewAuditEntry {
    pub tenant: Option<TenantId>,
    pub actor: String,
    pub credential: String,
    pub action: String,
    pub resource: String,
    pub method: String,
    pub path: String,
    pub source: String,
    pub request_id: String,
    pub status: u16,
}

/// Filters of a query or an export.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Exact action name, e.g. `account:Create`.
    pub action: Option<String>,
    /// Entries whose actor contains this text.
    pub actor: Option<String>,
    /// Entries whose resource contains this text.
    pub resource: Option<String>,
    pub result: Option<Outcome>,
    /// From this time on (Unix milliseconds, inclusive).
    pub since: Option<i64>,
    /// Before this time (Unix milliseconds, exclusive).
    pub until: Option<i64>,
    /// Entries per page, 1 to 500 (default 50); newest first.
    pub limit: Option<u32>,
    /// Continue after this id: the `next` of the previous page.
    pub after: Option<String>,
    /// Export format: `json` (default) or `csv`.
    pub format: Option<String>,
}

/// Most entries one export holds; narrow the time range for more.
pub const MAX_EXPORT: u32 = 100_000;

fn like(text: &str) -> String {
    crate::page::ListQuery {
        q: Some(text.to_owned()),
        ..Default::default()
    }
    .like()
}

type EntryRow = (
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
);

impl Platform {
    /// Appends one entry; returns its id.
    pub async fn append_audit(&self, entry: &NewAuditEntry) -> Result<String, AccountsError> {
        let at = now_ms();
        // Fixed-width hex time first: ids sort as entries were written.
        let id = format!("aud_{at:013x}{}", &ids::secret("")[..16]);
        sqlx::query(
            "INSERT INTO audit_log (id, at, tenant_id, actor, credential, action, resource, \
             method, path, source, request_id, status, result) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&id)
        .bind(at)
        .bind(entry.tenant.as_ref().map(|t| t.as_str().to_owned()))
        .bind(&entry.actor)
        .bind(&entry.credential)
        .bind(&entry.action)
        .bind(&entry.resource)
        .bind(&entry.method)
        .bind(&entry.path)
        .bind(&entry.source)
        .bind(&entry.request_id)
        .bind(i64::from(entry.status))
        .bind(Outcome::of_status(entry.status).as_str())
        .execute(self.store().pool())
        .await?;
        Ok(id)
    }

    /// Completes the entry `id` written before its request ran (status 0: no answer yet) with
    /// what the request turned out to be.
    pub async fn finish_audit(&self, id: &str, entry: &NewAuditEntry) -> Result<(), AccountsError> {
        sqlx::query(
            "UPDATE audit_log SET tenant_id = $1, actor = $2, resource = $3, status = $4, result = $5 \
             WHERE id = $6",
        )
        .bind(entry.tenant.as_ref().map(|t| t.as_str().to_owned()))
        .bind(&entry.actor)
        .bind(&entry.resource)
        .bind(i64::from(entry.status))
        .bind(Outcome::of_status(entry.status).as_str())
        .bind(id)
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// Entries of `tenant` (the operator's own when `None`), newest first, filtered and paged.
    pub async fn audit(
        &self,
        tenant: Option<&TenantId>,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>, AccountsError> {
        let limit = match query.limit {
            None => crate::page::DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(n) => {
                return Err(AccountsError::Invalid(format!(
                    "limit {n} is out of range: use 1 to {MAX_LIMIT}"
                )));
            }
        };
        let rows = self.audit_rows(tenant, query, limit + 1).await?;
        Ok(Page::from_rows(rows, limit, |e| e.id.clone()))
    }

    /// Every entry matching `query` (up to [`MAX_EXPORT`]), newest first, and whether more
    /// matched than were returned.
    pub async fn audit_export(
        &self,
        tenant: Option<&TenantId>,
        query: &AuditQuery,
    ) -> Result<(Vec<AuditEntry>, bool), AccountsError> {
        let mut rows = self.audit_rows(tenant, query, MAX_EXPORT + 1).await?;
        let truncated = rows.len() > MAX_EXPORT as usize;
        rows.truncate(MAX_EXPORT as usize);
        Ok((rows, truncated))
    }

    async fn audit_rows(
        &self,
        tenant: Option<&TenantId>,
        query: &AuditQuery,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, AccountsError> {
        // Absent filters bind values that match everything, so the statement text is fixed.
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT id, at, actor, credential, action, resource, method, path, source, \
             request_id, status, result FROM audit_log \
             WHERE (tenant_id = $1 OR ($1 = '' AND tenant_id IS NULL)) \
             AND ($2 = '' OR id < $2) AND ($3 = '' OR action = $3) \
             AND actor LIKE $4 ESCAPE '\\' AND resource LIKE $5 ESCAPE '\\' \
             AND ($6 = '' OR result = $6) AND at >= $7 AND at < $8 \
             ORDER BY id DESC LIMIT $9",
        )
        .bind(tenant.map_or("", |t| t.as_str()))
        .bind(query.after.as_deref().unwrap_or_default())
        .bind(query.action.as_deref().unwrap_or_default())
        .bind(like(query.actor.as_deref().unwrap_or_default()))
        .bind(like(query.resource.as_deref().unwrap_or_default()))
        .bind(query.result.map_or("", Outcome::as_str))
        .bind(query.since.unwrap_or(i64::MIN))
        .bind(query.until.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(self.store().pool())
        .await?;
        rows.into_iter()
            .map(
                |(
                    id,
                    at,
                    actor,
                    credential,
                    action,
                    resource,
                    method,
                    path,
                    source,
                    request_id,
                    status,
                    result,
                )| {
                    Ok(AuditEntry {
                        id,
                        at,
                        actor,
                        credential,
                        action,
                        resource,
                        method,
                        path,
                        source,
                        request_id,
                        status,
                        result: Outcome::parse(&result)?,
                    })
                },
            )
            .collect()
    }
}

/// Entries as CSV (RFC 4180), with a header row. Cells that a spreadsheet would run as a
/// formula are prefixed with `'`, so an exported log cannot attack whoever opens it.
pub fn to_csv(entries: &[AuditEntry]) -> String {
    fn cell(out: &mut String, value: &str) {
        let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{value}")
        } else {
            value.to_owned()
        };
        if guarded.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&guarded.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&guarded);
        }
    }
    let mut out = String::from(
        "id,at,actor,credential,action,resource,method,path,source,request_id,status,result\r\n",
    );
    for e in entries {
        for (i, value) in [
            e.id.as_str(),
            &e.at.to_string(),
            &e.actor,
            &e.credential,
            &e.action,
            &e.resource,
            &e.method,
            &e.path,
            &e.source,
            &e.request_id,
            &e.status.to_string(),
            e.result.as_str(),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            cell(&mut out, value);
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let entry = AuditEntry {
            id: "aud_1".into(),
            at: 5,
            actor: "bank-a/alice".into(),
            credential: "session".into(),
            action: "group:Create".into(),
            resource: "=HYPERLINK(\"x\",\"y\")".into(),
            method: "POST".into(),
            path: "/api/v1/groups".into(),
            source: "127.0.0.1:5000".into(),
            request_id: "req_1".into(),
            status: 201,
            result: Outcome::Ok,
        };
        let csv = to_csv(&[entry]);
        let row = csv.lines().nth(1).expect("a row");
        assert!(
            row.contains("\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""),
            "{row}"
        );
        assert!(row.ends_with(",201,ok"), "{row}");
    }
}
