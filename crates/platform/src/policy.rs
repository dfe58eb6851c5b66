//! IAM-style policy documents and how they decide: statements allow or deny actions
//! (`account:Create`, `key:Sign`, …) on resource names (`account/alice`, `group/ops`) with `*`
//! and `?` wildcards. Default deny; an explicit deny wins over any allow. Pure: no store, no
//! HTTP — [`crate::iam`] gathers the documents that apply to a caller and asks [`evaluate`].

use serde::{Deserialize, Serialize};

macro_rules! actions {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Everything an account can be allowed or denied to do. The wire name is
        /// `<service>:<Verb>`; routes declare theirs in [`crate::api::routes::ROUTES`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Action {
            $(#[doc = $doc] $variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            pub fn description(self) -> &'static str {
                match self {
                    $(Action::$variant => $doc,)*
                }
            }
        }
    };
}

actions! {
    SessionSignIn => "session:SignIn", "Sign in with a password (public).";
    SessionRefresh => "session:Refresh", "Exchange a refresh token for new tokens (public).";
    SessionSignOut => "session:SignOut", "End one's own session.";
    AccountEnrollMfa => "account:EnrollMfa", "Enrol and confirm one's own second factor.";
    AccountDisableMfa => "account:DisableMfa", "Turn off one's own second factor.";
    AccountReadSelf => "account:ReadSelf", "Read one's own account.";
    AccountChangeOwnPassword => "account:ChangeOwnPassword", "Change one's own password.";
    TenantCreate => "tenant:Create", "Create a tenant and its root account (operator).";
    TenantGetQuotas => "tenant:GetQuotas", "Read a tenant's quotas and usage.";
    TenantSetQuotas => "tenant:SetQuotas", "Set a tenant's quotas (operator).";
    SignupCreate => "signup:Create", "Ask for a new tenant by e-mail (public).";
    SignupVerify => "signup:Verify", "Confirm a sign-up with the e-mailed link (public).";
    TenantList => "tenant:List", "List tenants (operator).";
    AccountCreate => "account:Create", "Create a sub-account.";
    AccountList => "account:List", "List the tenant's accounts.";
    AccountGet => "account:Get", "Read an account, its groups and policies.";
    AccountDisable => "account:Disable", "Disable an account and end its sessions.";
    AccountEnable => "account:Enable", "Enable a disabled account.";
    AccountResetPassword => "account:ResetPassword", "Give a sub-account a new generated password.";
    AccountResetMfa => "account:ResetMfa", "Clear a sub-account's second factor.";
    AccountUnlock => "account:Unlock", "Lift the sign-in lock of an account name.";
    TenantGetSettings => "tenant:GetSettings", "Read the tenant's security settings.";
    TenantUpdateSettings => "tenant:UpdateSettings", "Change the tenant's security settings.";
    GroupCreate => "group:Create", "Create a group.";
    GroupList => "group:List", "List groups.";
    GroupGet => "group:Get", "Read a group, its members and policies.";
    GroupDelete => "group:Delete", "Delete a group.";
    GroupAddMember => "group:AddMember", "Add an account to a group.";
    GroupRemoveMember => "group:RemoveMember", "Remove an account from a group.";
    PolicyCreate => "policy:Create", "Create a policy.";
    PolicyList => "policy:List", "List policies.";
    PolicyGet => "policy:Get", "Read a policy and where it is attached.";
    PolicyUpdate => "policy:Update", "Replace a policy's document.";
    PolicyDelete => "policy:Delete", "Delete a policy that is attached nowhere.";
    PolicyAttach => "policy:Attach", "Attach a policy to an account or a group.";
    PolicyDetach => "policy:Detach", "Detach a policy from an account or a group.";
    ApiKeyCreate => "apikey:Create", "Create an API key acting for oneself within a scope.";
    ApiKeyList => "apikey:List", "List API keys.";
    ApiKeyRevoke => "apikey:Revoke", "Revoke an API key.";
    KeyCreate => "key:Create", "Generate a key in the keystore (software or HSM).";
    KeyImport => "key:Import", "Import a private key into the software keystore.";
    KeyList => "key:List", "List the keystore's keys.";
    KeyGet => "key:Get", "Read a key's public half.";
    KeySign => "key:Sign", "Sign with a key.";
    KeyDestroy => "key:Destroy", "Destroy a key's private half.";
    CaCreate => "ca:Create", "Create the tenant's certificate authority.";
    CaImport => "ca:Import", "Import an existing CA certificate and its key.";
    CaGet => "ca:Get", "Read the CA certificate.";
    CaGetCrl => "ca:GetCrl", "Download the CA's certificate revocation list.";
    CaIssueCertificate => "ca:IssueCertificate", "Issue an identity certificate.";
    CaListCertificates => "ca:ListCertificates", "List the certificate inventory.";
    CaGetCertificate => "ca:GetCertificate", "Read a certificate.";
    CaRenewCertificate => "ca:RenewCertificate", "Issue a new certificate for the same identity.";
    CaRevokeCertificate => "ca:RevokeCertificate", "Revoke a certificate.";
    CaEnrollCertificate => "ca:EnrollCertificate", "Enrol a certificate on a channel (signed by an admin key).";
    NetworkRegisterChannel => "network:RegisterChannel", "Register a channel the platform can reach (operator).";
    NetworkListChannels => "network:ListChannels", "List the channels the platform can reach.";
    NetworkCreate => "network:Create", "Create a consortium network whose validators the platform runs.";
    NetworkList => "network:List", "List the networks the tenant is a member of.";
    NetworkGet => "network:Get", "Read a network: members, nodes and their status.";
    NetworkStopNode => "network:StopNode", "Stop one of the organization's nodes.";
    NetworkStartNode => "network:StartNode", "Start one of the organization's nodes.";
    NetworkRestartNode => "network:RestartNode", "Restart one of the organization's nodes.";
    NetworkReadNodeLogs => "network:ReadNodeLogs", "Read the log of one of the organization's nodes.";
    NetworkInvite => "network:Invite", "Invite a tenant into a network.";
    NetworkListInvitations => "network:ListInvitations", "List invitations received and sent.";
    NetworkAnswerInvitation => "network:AnswerInvitation", "Accept or decline an invitation.";
    NetworkPropose => "network:Propose", "Propose on chain to add an invited organization (signed by an admin key).";
    NetworkListProposals => "network:ListProposals", "List a network's governance proposals and votes.";
    NetworkVote => "network:Vote", "Vote for a governance proposal (signed by an admin key).";
    NetworkRegisterNode => "network:RegisterNode", "Register a node the organization runs itself.";
    NetworkRemoveNode => "network:RemoveNode", "Remove a node the organization registered.";
    NetworkAddValidator => "network:AddValidator", "Run a new node of the organization and propose it as a validator.";
    NetworkProposeChannel => "network:ProposeChannel", "Propose a channel on a network (the organization's admin key signs its approval).";
    NetworkApproveChannel => "network:ApproveChannel", "Approve a proposed channel (the organization's admin key signs its configuration).";
    NetworkListNetworkChannels => "network:ListNetworkChannels", "List a network's channels: members, validators, approvals.";
    NetworkAddObserver => "network:AddObserver", "Run a new node of the organization as an observer and list it on chain (signed by an admin key).";
    ContractCompile => "contract:Compile", "Compile Solidity sources with a solcjs release.";
    ContractListCompilers => "contract:ListCompilers", "List the solcjs releases the platform can compile with.";
    ContractGetSecurityReport => "contract:GetSecurityReport", "Read a security report of the tenant's compilations, or one a network's version names.";
    ContractResolveFinding => "contract:ResolveFinding", "Resolve a security finding without a code change, with the reason (false positive or accepted risk).";
    NetworkListContracts => "network:ListContracts", "List a network's contracts and read their versions and state.";
    NetworkProposeContract => "network:ProposeContract", "Propose deploying, freezing, unfreezing or revoking a contract (signed by an admin key).";
    NetworkInvokeContract => "network:InvokeContract", "Invoke a contract's function through the gateway (signed by a custodial key).";
    NetworkGetInvocation => "network:GetInvocation", "Read the gateway invocations of a contract and their outcome.";
    NetworkQueryContract => "network:QueryContract", "Query a contract's function through the gateway (no transaction).";
    OperationList => "operation:List", "List the tenant's long operations.";
    OperationGet => "operation:Get", "Read an operation's progress.";
    OperationRetry => "operation:Retry", "Retry a failed or cancelled operation.";
    OperationCancel => "operation:Cancel", "Cancel a running operation.";
    AuditQuery => "audit:Query", "Read the tenant's audit log.";
    AuditExport => "audit:Export", "Export the tenant's audit log as JSON or CSV.";
    AuditQueryPlatform => "audit:QueryPlatform", "Read the operator's own audit log (operator).";
}

impl Action {
    /// Actions a tenant may protect with a second factor (`mfa_for_sensitive`): changes to
    /// who may do what, to accounts, to credentials, and (later) every use of a key.
    pub fn is_sensitive(self) -> bool {
        use Action::*;
        matches!(
            self,
            AccountChangeOwnPassword
                | AccountDisableMfa
                | AccountCreate
                | AccountDisable
                | AccountEnable
                | AccountResetPassword
                | AccountResetMfa
                | AccountUnlock
                | TenantUpdateSettings
                | GroupDelete
                | GroupAddMember
                | GroupRemoveMember
                | PolicyCreate
                | PolicyUpdate
                | PolicyDelete
                | PolicyAttach
                | PolicyDetach
                | ApiKeyCreate
                | ApiKeyRevoke
                | KeyCreate
                | KeyImport
                | KeySign
                | KeyDestroy
                | CaCreate
                | CaImport
                | CaIssueCertificate
                | CaRenewCertificate
                | CaRevokeCertificate
                | CaEnrollCertificate
                | NetworkCreate
                | NetworkAnswerInvitation
                | NetworkPropose
                | NetworkVote
                | NetworkAddValidator
                | NetworkAddObserver
                | NetworkProposeContract
                | NetworkProposeChannel
                | NetworkApproveChannel
        )
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of resource a policy can name, as `<kind>/<name>`.
pub const RESOURCE_KINDS: &[&str] = &[
    "account",
    "group",
    "policy",
    "apikey",
    "audit",
    "tenant",
    "key",
    "ca",
    "certificate",
    "channel",
    "network",
    "operation",
    "invitation",
];

/// Limits that keep a document readable and its evaluation cheap.
pub const MAX_STATEMENTS: usize = 50;
pub const MAX_PATTERNS: usize = 50;
pub const MAX_PATTERN_LEN: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

/// One rule: `effect` for every action matching one of `actions` on every resource matching
/// one of `resources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// An optional label, quoted back when this statement denies something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Effect,
    /// Action names or patterns: `account:Create`, `account:*`, `*`.
    #[schema(example = json!(["account:Get", "account:List"]))]
    pub actions: Vec<String>,
    /// Resource names or patterns: `account/alice`, `account/team-*`, `*`.
    #[schema(example = json!(["account/*"]))]
    pub resources: Vec<String>,
}

/// A policy document: a list of statements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

/// How a set of documents decides one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows it (default deny).
    NotAllowed,
    /// A statement denies it; its `sid`, if it has one.
    Denied {
        sid: Option<String>,
    },
}

impl PolicyDocument {
    /// Checks the document and says what to fix: every action pattern must match some action
    /// (a typo would otherwise silently grant nothing), every resource must name a known kind.
    pub fn validate(&self) -> Result<(), String> {
        if self.statements.is_empty() || self.statements.len() > MAX_STATEMENTS {
            return Err(format!(
                "a policy needs 1 to {MAX_STATEMENTS} statements, this one has {}",
                self.statements.len()
            ));
        }
        for (index, statement) in self.statements.iter().enumerate() {
            let at = format!("statement {}", index + 1);
            if let Some(sid) = &statement.sid
                && (sid.is_empty()
                    || sid.len() > 64
                    || !sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            {
                return Err(format!(
                    "{at}: sid {sid:?} must be 1-64 letters, digits or hyphens"
                ));
            }
            for (what, patterns) in [
                ("actions", &statement.actions),
                ("resources", &statement.resources),
            ] {
                if patterns.is_empty() || patterns.len() > MAX_PATTERNS {
                    return Err(format!(
                        "{at}: {what} needs 1 to {MAX_PATTERNS} entries, it has {}",
                        patterns.len()
                    ));
                }
                if let Some(long) = patterns.iter().find(|p| p.len() > MAX_PATTERN_LEN) {
                    return Err(format!(
                        "{at}: {what} entry {:?}… is longer than {MAX_PATTERN_LEN} characters",
                        long.chars().take(32).collect::<String>()
                    ));
                }
                if let Some(bad) = patterns
                    .iter()
                    .find(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic()))
                {
                    return Err(format!(
                        "{at}: {what} entry {bad:?} must be non-empty printable ASCII without spaces"
                    ));
                }
            }
            for pattern in &statement.actions {
                if !Action::ALL.iter().any(|a| glob(pattern, a.as_str())) {
                    return Err(format!(
                        "{at}: action {pattern:?} matches no action; actions look like `account:Create` or `account:*` (GET /api/v1/actions lists them)"
                    ));
                }
            }
            for pattern in &statement.resources {
                let kind_ok = pattern == "*"
                    || RESOURCE_KINDS.iter().any(|kind| {
                        pattern
                            .strip_prefix(kind)
                            .is_some_and(|rest| rest.starts_with('/'))
                    });
                if !kind_ok {
                    return Err(format!(
                        "{at}: resource {pattern:?} must be `*` or start with one of {}",
                        RESOURCE_KINDS
                            .iter()
                            .map(|k| format!("`{k}/`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        Ok(())
    }

    /// A document allowing everything: the scope of an API key that is as strong as its owner.
    pub fn allow_all() -> Self {
        PolicyDocument {
            statements: vec![Statement {
                sid: None,
                effect: Effect::Allow,
                actions: vec!["*".into()],
                resources: vec!["*".into()],
            }],
        }
    }
}

/// How `documents` together decide `action` on `resource`: an explicit deny anywhere wins,
/// otherwise any allow, otherwise not allowed.
pub fn evaluate<'a>(
    documents: impl IntoIterator<Item = &'a PolicyDocument>,
    action: Action,
    resource: &str,
) -> Decision {
    let mut allowed = false;
    for statement in documents.into_iter().flat_map(|d| &d.statements) {
        let applies = statement.actions.iter().any(|p| glob(p, action.as_str()))
            && statement.resources.iter().any(|p| glob(p, resource));
        if !applies {
            continue;
        }
        match statement.effect {
            Effect::Deny => {
                return Decision::Denied {
                    sid: statement.sid.clone(),
                };
            }
            Effect::Allow => allowed = true,
        }
    }
    if allowed {
        Decision::Allowed
    } else {
        Decision::NotAllowed
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (including none)
/// and `?` exactly one. Iterative with one backtrack point: linear in practice, never
/// exponential, whatever the pattern.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(statements: &[(Effect, &[&str], &[&str])]) -> PolicyDocument {
        PolicyDocument {
            statements: statements
                .iter()
                .map(|(effect, actions, resources)| Statement {
                    sid: None,
                    effect: *effect,
                    actions: actions.iter().map(|s| s.to_string()).collect(),
                    resources: resources.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn wildcards_match_as_documented() {
        assert!(glob("*", ""));
        assert!(glob("*", "account/alice"));
        assert!(glob("account/*", "account/alice"));
        assert!(glob("account/*", "account/*"));
        assert!(!glob("account/*", "group/alice"));
        assert!(glob("account/team-?", "account/team-a"));
        assert!(!glob("account/team-?", "account/team-ab"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("account:*", "account:Create"));
        assert!(!glob("account:Create", "account:CreateX"));
        // No exponential blow-up on adversarial patterns.
        let text = "a".repeat(200);
        assert!(!glob(&format!("{}b", "*a".repeat(100)), &text));
    }

    #[test]
    fn default_deny_and_explicit_deny_wins() {
        let allow = doc(&[(Effect::Allow, &["account:*"], &["account/*"])]);
        let deny = doc(&[(Effect::Deny, &["account:Disable"], &["account/root"])]);
        assert_eq!(
            evaluate([&allow], Action::AccountGet, "account/bob"),
            Decision::Allowed
        );
        assert_eq!(
            evaluate([&allow], Action::GroupCreate, "group/ops"),
            Decision::NotAllowed
        );
        assert_eq!(
            evaluate([], Action::AccountGet, "account/bob"),
            Decision::NotAllowed
        );
        assert_eq!(
            evaluate([&allow, &deny], Action::AccountDisable, "account/root"),
            Decision::Denied { sid: None }
        );
        assert_eq!(
            evaluate([&deny, &allow], Action::AccountDisable, "account/bob"),
            Decision::Allowed
        );
    }

    #[test]
    fn validation_says_what_to_fix() {
        let typo = doc(&[(Effect::Allow, &["account:create"], &["account/*"])]);
        assert!(typo.validate().unwrap_err().contains("matches no action"));
        let kind = doc(&[(Effect::Allow, &["account:Get"], &["users/*"])]);
        assert!(
            kind.validate()
                .unwrap_err()
                .contains("must be `*` or start with")
        );
        let empty = PolicyDocument { statements: vec![] };
        assert!(empty.validate().unwrap_err().contains("1 to 50 statements"));
        let spaces = doc(&[(Effect::Allow, &["account:Get"], &["account/a b"])]);
        assert!(spaces.validate().unwrap_err().contains("printable ASCII"));
        assert!(PolicyDocument::allow_all().validate().is_ok());
        assert!(
            doc(&[(Effect::Deny, &["*:Delete", "group:*"], &["group/ops-*"])])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn action_names_are_unique_and_well_formed() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        for name in names {
            let (service, verb) = name.split_once(':').expect("service:Verb");
            assert!(service.bytes().all(|b| b.is_ascii_lowercase()), "{name}");
            assert!(verb.starts_with(|c: char| c.is_ascii_uppercase()), "{name}");
        }
    }
}
