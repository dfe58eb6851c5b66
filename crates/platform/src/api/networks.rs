//! Handlers for networks, their nodes and the operations that create them.

use super::{ApiError, Body, Params, PathParams, routes::Caller};
use crate::{
    accounts::Platform,
    ids::OperationId,
    networks::{Network, NetworkSpec, Node, NodeAction, Operation},
};
use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

fn operation_id(text: &str) -> Result<OperationId, ApiError> {
    OperationId::parse(text).ok_or_else(|| {
        ApiError::from(crate::accounts::AccountsError::NotFound {
            what: "operation",
            name: text.to_string(),
        })
    })
}

/// Create a consortium network: its validators run by the platform. Answers the operation that
/// creates it (poll it for progress; retry or cancel it).
#[utoipa::path(post, path = "/api/v1/networks", tag = "networks", request_body = NetworkSpec,
    responses((status = 202, body = Operation), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn create_network(
    State(platform): State<Platform>,
    caller: Caller,
    Body(spec): Body<NetworkSpec>,
) -> Result<(StatusCode, Json<Operation>), ApiError> {
    caller
        .authorize(&platform, format!("network/{}", spec.name))
        .await?;
    let operation = platform.create_network(caller.tenant()?, spec).await?;
    Ok((StatusCode::ACCEPTED, Json(operation)))
}

/// The networks the tenant is a member of.
#[utoipa::path(get, path = "/api/v1/networks", tag = "networks",
    responses((status = 200, body = Vec<Network>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_networks(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<Vec<Network>>, ApiError> {
    caller.authorize(&platform, "network/*").await?;
    Ok(Json(platform.networks(caller.tenant()?).await?))
}

#[derive(Debug, Deserialize)]
pub struct NetworkPath {
    pub name: String,
}

/// A network: members, nodes (with height, lag, peers, restarts, last exit) and status.
#[utoipa::path(get, path = "/api/v1/networks/{name}", tag = "networks", params(("name" = String, Path)),
    responses((status = 200, body = Network), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_network(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
) -> Result<Json<Network>, ApiError> {
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    Ok(Json(platform.network(caller.tenant()?, &path.name).await?))
}

#[derive(Debug, Deserialize)]
pub struct NodePath {
    pub name: String,
    pub node: String,
}

async fn node_action(
    platform: Platform,
    caller: Caller,
    path: NodePath,
    action: NodeAction,
) -> Result<Json<Node>, ApiError> {
    caller
        .authorize(
            &platform,
            format!("network/{}/node/{}", path.name, path.node),
        )
        .await?;
    Ok(Json(
        platform
            .node_action(caller.tenant()?, &path.name, &path.node, action)
            .await?,
    ))
}

/// Stop one of the organization's nodes and keep it stopped.
#[utoipa::path(post, path = "/api/v1/networks/{name}/nodes/{node}/stop", tag = "networks",
    params(("name" = String, Path), ("node" = String, Path)),
    responses((status = 200, body = Node), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn stop_node(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NodePath>,
) -> Result<Json<Node>, ApiError> {
    node_action(platform, caller, path, NodeAction::Stop).await
}

/// Start one of the organization's stopped nodes.
#[utoipa::path(post, path = "/api/v1/networks/{name}/nodes/{node}/start", tag = "networks",
    params(("name" = String, Path), ("node" = String, Path)),
    responses((status = 200, body = Node), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn start_node(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NodePath>,
) -> Result<Json<Node>, ApiError> {
    node_action(platform, caller, path, NodeAction::Start).await
}

/// Restart one of the organization's nodes.
#[utoipa::path(post, path = "/api/v1/networks/{name}/nodes/{node}/restart", tag = "networks",
    params(("name" = String, Path), ("node" = String, Path)),
    responses((status = 200, body = Node), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn restart_node(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NodePath>,
) -> Result<Json<Node>, ApiError> {
    node_action(platform, caller, path, NodeAction::Restart).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// How many of the last lines (1 to 1000, default 200).
    pub lines: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeLog {
    pub node: String,
    pub lines: Vec<String>,
}

/// The last lines of one of the organization's nodes' log.
#[utoipa::path(get, path = "/api/v1/networks/{name}/nodes/{node}/logs", tag = "networks",
    params(("name" = String, Path), ("node" = String, Path), LogQuery),
    responses((status = 200, body = NodeLog), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
pub async fn node_logs(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NodePath>,
    Params(query): Params<LogQuery>,
) -> Result<Json<NodeLog>, ApiError> {
    caller
        .authorize(
            &platform,
            format!("network/{}/node/{}", path.name, path.node),
        )
        .await?;
    let lines = platform
        .node_logs(
            caller.tenant()?,
            &path.name,
            &path.node,
            query.lines.unwrap_or(200),
        )
        .await?;
    Ok(Json(NodeLog {
        node: path.node,
        lines,
    }))
}

/// The tenant's operations, newest first.
#[utoipa::path(get, path = "/api/v1/operations", tag = "operations",
    responses((status = 200, body = Vec<Operation>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_operations(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<Vec<Operation>>, ApiError> {
    caller.authorize(&platform, "operation/*").await?;
    Ok(Json(platform.operations(caller.tenant()?).await?))
}

#[derive(Debug, Deserialize)]
pub struct OperationPath {
    pub id: String,
}

/// An operation: status, progress (`step` of `steps`), message and error.
#[utoipa::path(get, path = "/api/v1/operations/{id}", tag = "operations", params(("id" = String, Path)),
    responses((status = 200, body = Operation), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_operation(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<OperationPath>,
) -> Result<Json<Operation>, ApiError> {
    caller
        .authorize(&platform, format!("operation/{}", path.id))
        .await?;
    let id = operation_id(&path.id)?;
    Ok(Json(platform.operation(caller.tenant()?, &id).await?))
}

/// Retry a failed or cancelled operation from the step it stopped at.
#[utoipa::path(post, path = "/api/v1/operations/{id}/retry", tag = "operations", params(("id" = String, Path)),
    responses((status = 202, body = Operation), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn retry_operation(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<OperationPath>,
) -> Result<(StatusCode, Json<Operation>), ApiError> {
    caller
        .authorize(&platform, format!("operation/{}", path.id))
        .await?;
    let id = operation_id(&path.id)?;
    let operation = platform.retry_operation(caller.tenant()?, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(operation)))
}

/// Cancel a pending or running operation after its current step.
#[utoipa::path(post, path = "/api/v1/operations/{id}/cancel", tag = "operations", params(("id" = String, Path)),
    responses((status = 202, body = Operation), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn cancel_operation(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<OperationPath>,
) -> Result<(StatusCode, Json<Operation>), ApiError> {
    caller
        .authorize(&platform, format!("operation/{}", path.id))
        .await?;
    let id = operation_id(&path.id)?;
    let operation = platform.cancel_operation(caller.tenant()?, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(operation)))
}
