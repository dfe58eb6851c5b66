//! Handlers for networks, their nodes and the operations that create them.

use super::{ApiError, Body, Params, PathParams, routes::Caller};
use crate::{
    accounts::Platform,
    ids::OperationId,
    networks::{
        Network, NetworkSpec, Node, NodeAction, Operation,
        channels::{ChannelRequest, NetworkChannel},
        contracts::{Contract, ContractAction, DeploymentRequest},
        gateway::Invocation,
        invitations::{ChangeRequest, Invitation, Proposal},
        validators::{AddedValidator, NodeRegistration, NodeRemoval},
    },
    policy::Action,
};
use axum::{Json, extract::State, http::StatusCode, response::IntoResponse as _};
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

fn invitation_id(text: &str) -> Result<crate::ids::InvitationId, ApiError> {
    crate::ids::InvitationId::parse(text).ok_or_else(|| {
        ApiError::from(crate::accounts::AccountsError::NotFound {
            what: "invitation",
            name: text.to_string(),
        })
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// The tenant to invite, by name.
    pub tenant: String,
    /// A note for the invitee (up to 500 characters).
    #[serde(default)]
    pub message: String,
}

/// Invite a tenant into a network the caller's organization is a member of.
#[utoipa::path(post, path = "/api/v1/networks/{name}/invitations", tag = "networks", params(("name" = String, Path)),
    request_body = InviteRequest,
    responses((status = 201, body = Invitation), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn invite(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
    Body(request): Body<InviteRequest>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    let invitation = platform
        .invite(
            caller.tenant()?,
            &path.name,
            &request.tenant,
            &request.message,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// The invitations the tenant received (its inbox) and those sent into its networks.
#[utoipa::path(get, path = "/api/v1/invitations", tag = "networks",
    responses((status = 200, body = Vec<Invitation>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_invitations(
    State(platform): State<Platform>,
    caller: Caller,
) -> Result<Json<Vec<Invitation>>, ApiError> {
    caller.authorize(&platform, "invitation/*").await?;
    Ok(Json(platform.invitations(caller.tenant()?).await?))
}

async fn answer(
    platform: Platform,
    caller: Caller,
    id: String,
    accept: bool,
) -> Result<Json<Invitation>, ApiError> {
    caller
        .authorize(&platform, format!("invitation/{id}"))
        .await?;
    let id = invitation_id(&id)?;
    Ok(Json(
        platform
            .answer_invitation(caller.tenant()?, &id, accept)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct InvitationPath {
    pub id: String,
}

/// Accept an invitation (the organization's CA, admin key and admin certificate are made if it
/// has none); a member then proposes adding it on chain.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/accept", tag = "networks", params(("id" = String, Path)),
    responses((status = 200, body = Invitation), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn accept_invitation(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<InvitationPath>,
) -> Result<Json<Invitation>, ApiError> {
    answer(platform, caller, path.id, true).await
}

/// Decline an invitation.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/decline", tag = "networks", params(("id" = String, Path)),
    responses((status = 200, body = Invitation), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn decline_invitation(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<InvitationPath>,
) -> Result<Json<Invitation>, ApiError> {
    answer(platform, caller, path.id, false).await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedByRequest {
    /// The organization's custodial admin key that signs (default `admin`).
    pub admin_key: Option<String>,
}

/// Propose on chain to add an accepted invitee's organization, signed by the caller's
/// organization's admin key (its vote for it).
#[utoipa::path(post, path = "/api/v1/invitations/{id}/proposals", tag = "networks", params(("id" = String, Path)),
    request_body = SignedByRequest,
    responses((status = 201, body = Invitation), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn propose_join(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<InvitationPath>,
    Body(request): Body<SignedByRequest>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let admin_key = request.admin_key.unwrap_or_else(|| "admin".into());
    caller
        .authorize(&platform, format!("invitation/{}", path.id))
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
        .await?;
    let id = invitation_id(&path.id)?;
    let invitation = platform
        .propose_join(caller.tenant()?, &id, &admin_key)
        .await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProposalQuery {
    /// The admin key whose identity reads the chain (signs a read token; default `admin`).
    pub admin_key: Option<String>,
    /// A channel created on the network (default: its first channel).
    pub channel: Option<String>,
}

/// The governance proposals of a network's channel: who voted, who has not, deadline, status.
#[utoipa::path(get, path = "/api/v1/networks/{name}/proposals", tag = "networks", params(("name" = String, Path), ProposalQuery),
    responses((status = 200, body = Vec<Proposal>), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn list_proposals(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
    Params(query): Params<ProposalQuery>,
) -> Result<Json<Vec<Proposal>>, ApiError> {
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    let admin_key = query.admin_key.unwrap_or_else(|| "admin".into());
    Ok(Json(
        platform
            .proposals(
                caller.tenant()?,
                &path.name,
                &admin_key,
                query.channel.as_deref(),
            )
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ProposalPath {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    /// The organization's custodial admin key that signs (default `admin`).
    pub admin_key: Option<String>,
    /// The channel the proposal was made on (default: the network's first channel).
    pub channel: Option<String>,
}

/// Vote for a proposal, signed by the caller's organization's admin key.
#[utoipa::path(post, path = "/api/v1/networks/{name}/proposals/{id}/votes", tag = "networks",
    params(("name" = String, Path), ("id" = u64, Path)), request_body = VoteRequest,
    responses((status = 201, body = Proposal), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn vote(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<ProposalPath>,
    Body(request): Body<VoteRequest>,
) -> Result<(StatusCode, Json<Proposal>), ApiError> {
    let admin_key = request.admin_key.unwrap_or_else(|| "admin".into());
    caller
        .authorize(
            &platform,
            format!("network/{}/proposal/{}", path.name, path.id),
        )
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
        .await?;
    let id: u64 = path.id.parse().map_err(|_| {
        ApiError::from(crate::accounts::AccountsError::NotFound {
            what: "proposal",
            name: path.id.clone(),
        })
    })?;
    let proposal = platform
        .vote(
            caller.tenant()?,
            &path.name,
            id,
            &admin_key,
            request.channel.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(proposal)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeProposalRequest {
    pub change: ChangeRequest,
    /// The organization's custodial admin key that signs (default `admin`).
    pub admin_key: Option<String>,
    /// A channel created on the network (default: its first channel).
    pub channel: Option<String>,
}

/// Propose a change of the network's channel (remove an organization, replace a policy), signed
/// by the caller's organization's admin key (its vote); members vote on it.
#[utoipa::path(post, path = "/api/v1/networks/{name}/proposals", tag = "networks", params(("name" = String, Path)),
    request_body = ChangeProposalRequest,
    responses((status = 201, body = Proposal), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn propose_change(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
    Body(request): Body<ChangeProposalRequest>,
) -> Result<(StatusCode, Json<Proposal>), ApiError> {
    let admin_key = request.admin_key.unwrap_or_else(|| "admin".into());
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
        .await?;
    let proposal = platform
        .propose_change(
            caller.tenant()?,
            &path.name,
            request.change,
            &admin_key,
            request.channel.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(proposal)))
}

/// Add a validator of the caller's organization: the platform runs a new node for it (it
/// follows the chain at once) and proposes it on chain, signed by the organization's admin key
/// (its vote); once voted in, it votes in consensus from the next epoch.
#[utoipa::path(post, path = "/api/v1/networks/{name}/validators", tag = "networks", params(("name" = String, Path)),
    request_body = SignedByRequest,
    responses((status = 201, body = AddedValidator), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn add_validator(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
    Body(request): Body<SignedByRequest>,
) -> Result<(StatusCode, Json<AddedValidator>), ApiError> {
    let admin_key = request.admin_key.unwrap_or_else(|| "admin".into());
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
        .await?;
    let added = platform
        .add_validator(caller.tenant()?, &path.name, &admin_key)
        .await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Add an observer of the caller's organization: the platform runs a new node for it, which
/// follows the chain and serves JSON-RPC without voting, and lists it on chain signed by the
/// organization's admin key (no other member's vote is needed).
#[utoipa::path(post, path = "/api/v1/networks/{name}/observers", tag = "networks", params(("name" = String, Path)),
    request_body = SignedByRequest,
    responses((status = 201, body = Node), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn add_observer(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
    Body(request): Body<SignedByRequest>,
) -> Result<(StatusCode, Json<Node>), ApiError> {
    let admin_key = request.admin_key.unwrap_or_else(|| "admin".into());
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
        .await?;
    let node = platform
        .add_observer(caller.tenant()?, &path.name, &admin_key)
        .await?;
    Ok((StatusCode::CREATED, Json(node)))
}

/// The network's channels: its first channel and those proposed on it, with their members,
/// validators, observers, policies, approvals and the nodes that serve them.
#[utoipa::path(get, path = "/api/v1/networks/{name}/channels", tag = "networks", params(("name" = String, Path)),
    responses((status = 200, body = [NetworkChannel]), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
pub async fn list_network_channels(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
) -> Result<Json<Vec<NetworkChannel>>, ApiError> {
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    Ok(Json(
        platform
            .network_channels(caller.tenant()?, &path.name)
            .await?,
    ))
}

/// Propose a channel: its members, validators and policies. The proposer's admin key signs its
/// approval at once; every other member approves from its own account. Once all have, the
/// platform joins the validators' nodes.
#[utoipa::path(post, path = "/api/v1/networks/{name}/channels", tag = "networks", params(("name" = String, Path)),
    request_body = ChannelRequest,
    responses((status = 201, body = NetworkChannel), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn propose_channel(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
    Body(request): Body<ChannelRequest>,
) -> Result<(StatusCode, Json<NetworkChannel>), ApiError> {
    let admin_key = request.admin_key.clone().unwrap_or_else(|| "admin".into());
    caller
        .authorize(
            &platform,
            format!("network/{}/channel/{}", path.name, request.name),
        )
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
        .await?;
    let channel = platform
        .propose_channel(caller.tenant()?, &path.name, request)
        .await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ChannelPath {
    pub name: String,
    pub channel: String,
}

/// Approve a proposed channel from the caller's organization: its admin key signs the channel's
/// configuration. The last approval joins the validators.
#[utoipa::path(post, path = "/api/v1/networks/{name}/channels/{channel}/approvals", tag = "networks",
    params(("name" = String, Path), ("channel" = String, Path)),
    request_body = SignedByRequest,
    responses((status = 201, body = NetworkChannel), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn approve_channel(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<ChannelPath>,
    Body(request): Body<SignedByRequest>,
) -> Result<(StatusCode, Json<NetworkChannel>), ApiError> {
    let admin_key = request.admin_key.unwrap_or_else(|| "admin".into());
    caller
        .authorize(
            &platform,
            format!("network/{}/channel/{}", path.name, path.channel),
        )
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
        .await?;
    let channel = platform
        .approve_channel(caller.tenant()?, &path.name, &path.channel, &admin_key)
        .await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

/// Register a node the organization runs itself (checked against its CA); the platform reads
/// its status like its own nodes'.
#[utoipa::path(post, path = "/api/v1/networks/{name}/nodes", tag = "networks", params(("name" = String, Path)),
    request_body = NodeRegistration,
    responses((status = 201, body = Node), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn register_node(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
    Body(registration): Body<NodeRegistration>,
) -> Result<(StatusCode, Json<Node>), ApiError> {
    caller
        .authorize(
            &platform,
            format!("network/{}/node/{}", path.name, registration.name),
        )
        .await?;
    let node = platform
        .register_node(caller.tenant()?, &path.name, registration)
        .await?;
    Ok((StatusCode::CREATED, Json(node)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveNodeQuery {
    /// For a node the platform runs: the organization's custodial admin key that signs its
    /// removal from the channel's observer list, or the proposal to remove it from the
    /// validator set (default `admin`).
    pub admin_key: Option<String>,
}

/// Remove a node of the organization: a registered one is forgotten; an observer the platform
/// runs is first removed from the channel's observer list (signed by the admin key), then
/// stopped and deleted (204). For a validator the platform runs, its removal from the validator
/// set is proposed, signed by the admin key (the organization's vote): 202 with the proposal;
/// once the members voted it out and the next epoch runs without it, the platform stops and
/// deletes it (until then the node lists `leaves_at`).
#[utoipa::path(delete, path = "/api/v1/networks/{name}/nodes/{node}", tag = "networks",
    params(("name" = String, Path), ("node" = String, Path), RemoveNodeQuery),
    responses((status = 204), (status = 202, body = Proposal), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn remove_node(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NodePath>,
    Params(query): Params<RemoveNodeQuery>,
) -> Result<axum::response::Response, ApiError> {
    caller
        .authorize(
            &platform,
            format!("network/{}/node/{}", path.name, path.node),
        )
        .await?;
    let admin_key = query.admin_key.unwrap_or_else(|| "admin".into());
    if platform
        .node_signs_removal(caller.tenant()?, &path.name, &path.node)
        .await?
    {
        caller
            .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
            .await?;
    }
    Ok(
        match platform
            .remove_node(caller.tenant()?, &path.name, &path.node, &admin_key)
            .await?
        {
            NodeRemoval::Removed => StatusCode::NO_CONTENT.into_response(),
            NodeRemoval::Proposed(proposal) => {
                (StatusCode::ACCEPTED, Json(proposal)).into_response()
            }
        },
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadAsQuery {
    /// The admin key whose identity reads the chain (signs a read token; default `admin`).
    pub admin_key: Option<String>,
}

/// The contracts of a network's first channel, as its registry holds them (name, address,
/// state since which height, version), with the deployments proposed through the platform
/// that are still waiting for votes.
#[utoipa::path(get, path = "/api/v1/networks/{name}/contracts", tag = "contracts", params(("name" = String, Path), ReadAsQuery),
    responses((status = 200, body = Vec<Contract>), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 503, body = ApiError)))]
pub async fn list_contracts(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
    Params(query): Params<ReadAsQuery>,
) -> Result<Json<Vec<Contract>>, ApiError> {
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    let admin_key = query.admin_key.unwrap_or_else(|| "admin".into());
    Ok(Json(
        platform
            .contracts(caller.tenant()?, &path.name, &admin_key)
            .await?,
    ))
}

/// Propose deploying a contract: the caller's organization's admin key signs the proposal
/// (its vote); once the members approve it under the channel's deploy policy, the platform
/// creates the contract with that same key and it is registered under its name.
#[utoipa::path(post, path = "/api/v1/networks/{name}/contracts", tag = "contracts", params(("name" = String, Path)),
    request_body = DeploymentRequest,
    responses((status = 201, body = Proposal), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 503, body = ApiError)))]
pub async fn propose_deployment(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<NetworkPath>,
    Body(request): Body<DeploymentRequest>,
) -> Result<(StatusCode, Json<Proposal>), ApiError> {
    let admin_key = request.admin_key.clone().unwrap_or_else(|| "admin".into());
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
        .await?;
    let proposal = platform
        .propose_deployment(caller.tenant()?, &path.name, request, &admin_key)
        .await?;
    Ok((StatusCode::CREATED, Json(proposal)))
}

#[derive(Debug, Deserialize)]
pub struct ContractPath {
    pub name: String,
    pub contract: String,
}

/// One contract: address, state and since which height, and every version (ABI, source hash,
/// compiler, security report hash, code hash, height).
#[utoipa::path(get, path = "/api/v1/networks/{name}/contracts/{contract}", tag = "contracts",
    params(("name" = String, Path), ("contract" = String, Path), ReadAsQuery),
    responses((status = 200, body = Object), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 503, body = ApiError)))]
pub async fn get_contract(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<ContractPath>,
    Params(query): Params<ReadAsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    let admin_key = query.admin_key.unwrap_or_else(|| "admin".into());
    Ok(Json(
        platform
            .contract(caller.tenant()?, &path.name, &path.contract, &admin_key)
            .await?,
    ))
}

/// A lifecycle proposal: `{"action": "freeze"}`, `unfreeze`, `revoke`,
/// `{"action": "upgrade", "bytecode": "0x…runtime", "abi": […]}` or
/// `{"action": "register", "address": "0x…", "abi": […]}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ContractActionRequest {
    #[serde(flatten)]
    pub action: ContractAction,
    /// The organization's custodial admin key that signs the proposal (default `admin`).
    pub admin_key: Option<String>,
}

/// Propose freezing, unfreezing, revoking or upgrading a registered contract, or registering
/// one created directly, signed by the caller's organization's admin key (its vote); the
/// members vote under that action's channel policy.
#[utoipa::path(post, path = "/api/v1/networks/{name}/contracts/{contract}/proposals", tag = "contracts",
    params(("name" = String, Path), ("contract" = String, Path)),
    request_body = ContractActionRequest,
    responses((status = 201, body = Proposal), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 503, body = ApiError)))]
pub async fn propose_contract_action(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<ContractPath>,
    Body(request): Body<ContractActionRequest>,
) -> Result<(StatusCode, Json<Proposal>), ApiError> {
    let admin_key = request.admin_key.unwrap_or_else(|| "admin".into());
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{admin_key}"))
        .await?;
    let proposal = platform
        .propose_contract_action(
            caller.tenant()?,
            &path.name,
            &path.contract,
            request.action,
            &admin_key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(proposal)))
}

#[derive(Debug, Deserialize)]
pub struct MethodPath {
    pub name: String,
    pub contract: String,
    pub method: String,
}

/// A gateway call: the arguments (a list in parameter order, or an object by name) and the
/// custodial key of the caller's organization that signs (or, for a query, reads).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayRequest {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
    /// Default `admin`.
    pub key: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvokeQuery {
    /// Wait for the receipt and answer it decoded (events, revert reason).
    #[serde(default)]
    pub confirm: bool,
}

/// Invoke a function of a registered contract, generated from its ABI: the arguments are
/// checked against it, the transaction is signed by a custodial key of the caller's
/// organization. Answers 202 with the transaction hash, or with `?confirm=true` 200 with the
/// receipt: status, decoded events, revert reason.
#[utoipa::path(post, path = "/api/v1/networks/{name}/contracts/{contract}/invoke/{method}", tag = "contracts",
    params(("name" = String, Path), ("contract" = String, Path), ("method" = String, Path, description = "A function name, or its signature when overloaded"), InvokeQuery),
    request_body = GatewayRequest,
    responses((status = 200, body = Invocation), (status = 202, body = Invocation), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError), (status = 503, body = ApiError)))]
pub async fn invoke_contract(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<MethodPath>,
    Params(query): Params<InvokeQuery>,
    Body(request): Body<GatewayRequest>,
) -> Result<(StatusCode, Json<Invocation>), ApiError> {
    let key = request.key.unwrap_or_else(|| "admin".into());
    caller
        .authorize(
            &platform,
            format!("network/{}/contract/{}", path.name, path.contract),
        )
        .await?;
    caller
        .authorize_also(&platform, Action::KeySign, &format!("key/{key}"))
        .await?;
    let invocation = platform
        .invoke_contract(
            caller.tenant()?,
            &path.name,
            &path.contract,
            &path.method,
            &request.args,
            &key,
            query.confirm,
        )
        .await?;
    let status = if query.confirm {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(invocation)))
}

/// Query a function of a registered contract (an `eth_call`, no transaction): its decoded
/// return values, by name where the ABI names them.
#[utoipa::path(post, path = "/api/v1/networks/{name}/contracts/{contract}/query/{method}", tag = "contracts",
    params(("name" = String, Path), ("contract" = String, Path), ("method" = String, Path)),
    request_body = GatewayRequest,
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 503, body = ApiError)))]
pub async fn query_contract(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<MethodPath>,
    Body(request): Body<GatewayRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = request.key.unwrap_or_else(|| "admin".into());
    caller
        .authorize(
            &platform,
            format!("network/{}/contract/{}", path.name, path.contract),
        )
        .await?;
    Ok(Json(
        platform
            .query_contract(
                caller.tenant()?,
                &path.name,
                &path.contract,
                &path.method,
                &request.args,
                &key,
            )
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct InvocationPath {
    pub name: String,
    pub contract: String,
    pub id: String,
}

/// The tenant's invocations of a contract through the gateway, newest first, with their
/// outcome as far as it was read (`?q=` filters by method).
#[utoipa::path(get, path = "/api/v1/networks/{name}/contracts/{contract}/invocations", tag = "contracts",
    params(("name" = String, Path), ("contract" = String, Path), crate::page::ListQuery),
    responses((status = 200, body = crate::page::Page<Invocation>), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn list_invocations(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<ContractPath>,
    Params(query): Params<crate::page::ListQuery>,
) -> Result<Json<crate::page::Page<Invocation>>, ApiError> {
    caller
        .authorize(
            &platform,
            format!("network/{}/contract/{}", path.name, path.contract),
        )
        .await?;
    Ok(Json(
        platform
            .invocations(caller.tenant()?, &path.name, &path.contract, &query)
            .await?,
    ))
}

/// One invocation: what the invoke answered, with its outcome — read from the chain now if it
/// was not yet (status `submitted` until its block is committed).
#[utoipa::path(get, path = "/api/v1/networks/{name}/contracts/{contract}/invocations/{id}", tag = "contracts",
    params(("name" = String, Path), ("contract" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Invocation), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError)))]
pub async fn get_invocation(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<InvocationPath>,
) -> Result<Json<Invocation>, ApiError> {
    caller
        .authorize(
            &platform,
            format!("network/{}/contract/{}", path.name, path.contract),
        )
        .await?;
    Ok(Json(
        platform
            .invocation(caller.tenant()?, &path.name, &path.contract, &path.id)
            .await?,
    ))
}

/// The contract's own OpenAPI document, generated from its ABI: a path per function.
#[utoipa::path(get, path = "/api/v1/networks/{name}/contracts/{contract}/openapi.json", tag = "contracts",
    params(("name" = String, Path), ("contract" = String, Path), ReadAsQuery),
    responses((status = 200, body = Object), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn contract_openapi(
    State(platform): State<Platform>,
    caller: Caller,
    PathParams(path): PathParams<ContractPath>,
    Params(query): Params<ReadAsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller
        .authorize(&platform, format!("network/{}", path.name))
        .await?;
    let key = query.admin_key.unwrap_or_else(|| "admin".into());
    let contract = platform
        .gateway_contract(caller.tenant()?, &path.name, &path.contract, &key)
        .await?;
    Ok(Json(crate::networks::gateway::openapi_document(
        &path.name, &contract,
    )))
}
