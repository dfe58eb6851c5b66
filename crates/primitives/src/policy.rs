//! Channel policies: who may read, write, deploy contracts and govern, as a small language over
//! organization roles.
//!
//! ```text
//! policy    := "ANY" principal | "ALL" roles | "MAJORITY" roles
//!            | N "OF" "(" policy ("," policy)* ")" | principal
//! principal := Org "." role | roles
//! roles     := "Admins" | "Clients" | "Nodes" | "Members"   (role: admin, client, node, member)
//! ```
//!
//! `ANY Org1.client` holds if some signer is a client of Org1; `MAJORITY Admins` if admins of
//! more than half of the channel's organizations signed; `2 OF (Org1.admin, Org2.admin,
//! Org3.admin)` if any two of those did. `member` matches every role of an organization.

use std::{collections::BTreeSet, fmt, str::FromStr};

/// A role as policies name it; `Member` matches all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyRole {
    Admin,
    Client,
    Node,
    Member,
}

impl PolicyRole {
    fn parse(word: &str) -> Option<Self> {
        match word {
            "admin" => Some(Self::Admin),
            "client" => Some(Self::Client),
            "node" => Some(Self::Node),
            "member" => Some(Self::Member),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Client => "client",
            Self::Node => "node",
            Self::Member => "member",
        }
    }

    /// Whether an identity holding `held` satisfies this role.
    pub fn admits(self, held: PolicyRole) -> bool {
        self == PolicyRole::Member || self == held
    }
}

/// Who a policy term speaks of: one organization's role, or that role in every organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    OrgRole {
        org: String,
        role: PolicyRole,
    },
    /// `Admins`, `Clients`, `Nodes`, `Members`: the role in each of the channel's organizations.
    EveryOrg(PolicyRole),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    Any(Principal),
    /// The role in every one of the channel's organizations.
    All(PolicyRole),
    /// The role in more than half of the channel's organizations.
    Majority(PolicyRole),
    OutOf {
        required: usize,
        of: Vec<Policy>,
    },
}

/// One signer as a policy sees it: its organization and role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signer {
    pub org: String,
    pub role: PolicyRole,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {policy:?}: {message} at position {position}")]
    Syntax {
        policy: String,
        position: usize,
        message: String,
    },
    #[error("policy names organization {0:?}, which is not a member of the channel")]
    UnknownOrg(String),
}

impl Policy {
    /// Whether `signers` satisfy the policy in a channel whose member organizations are `orgs`.
    pub fn is_satisfied(&self, signers: &[Signer], orgs: &[String]) -> bool {
        let holds = |org: &str, role: PolicyRole| {
            signers.iter().any(|s| s.org == org && role.admits(s.role))
        };
        match self {
            Policy::Any(Principal::OrgRole { org, role }) => holds(org, *role),
            Policy::Any(Principal::EveryOrg(role)) => orgs.iter().any(|o| holds(o, *role)),
            Policy::All(role) => !orgs.is_empty() && orgs.iter().all(|o| holds(o, *role)),
            Policy::Majority(role) => {
                let agreeing = orgs.iter().filter(|o| holds(o, *role)).count();
                agreeing * 2 > orgs.len()
            }
            Policy::OutOf { required, of } => {
                of.iter().filter(|p| p.is_satisfied(signers, orgs)).count() >= *required
            }
        }
    }

    /// Every organization the policy names explicitly.
    pub fn named_orgs(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        self.collect_orgs(&mut out);
        out
    }

    fn collect_orgs<'a>(&'a self, out: &mut BTreeSet<&'a str>) {
        match self {
            Policy::Any(Principal::OrgRole { org, .. }) => {
                out.insert(org);
            }
            Policy::Any(Principal::EveryOrg(_)) | Policy::All(_) | Policy::Majority(_) => {}
            Policy::OutOf { of, .. } => of.iter().for_each(|p| p.collect_orgs(out)),
        }
    }

    /// Refuses a policy that names an organization outside `orgs`.
    pub fn check_orgs(&self, orgs: &[String]) -> Result<(), PolicyError> {
        match self
            .named_orgs()
            .into_iter()
            .find(|o| !orgs.iter().any(|m| m == o))
        {
            Some(unknown) => Err(PolicyError::UnknownOrg(unknown.to_string())),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::OrgRole { org, role } => write!(f, "{org}.{}", role.as_str()),
            Principal::EveryOrg(role) => {
                let word = role.as_str();
                let mut chars = word.chars();
                let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or('?');
                write!(f, "{first}{}s", chars.as_str())
            }
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Any(p) => write!(f, "ANY {p}"),
            Policy::All(role) => write!(f, "ALL {}", Principal::EveryOrg(*role)),
            Policy::Majority(role) => write!(f, "MAJORITY {}", Principal::EveryOrg(*role)),
            Policy::OutOf { required, of } => {
                write!(f, "{required} OF (")?;
                for (i, p) in of.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{p}")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// Deepest nesting of `N OF (...)` accepted (policies come from configs and proposals).
const MAX_DEPTH: usize = 8;

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(usize, &'a str)>,
    next: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        let mut tokens = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            let separator = c.is_whitespace() || matches!(c, '(' | ')' | ',');
            if separator {
                if let Some(s) = start.take() {
                    tokens.push((s, &text[s..i]));
                }
                if !c.is_whitespace() {
                    tokens.push((i, &text[i..i + 1]));
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            tokens.push((s, &text[s..]));
        }
        Self {
            text,
            tokens,
            next: 0,
        }
    }

    fn error(&self, message: impl Into<String>) -> PolicyError {
        let position = self
            .tokens
            .get(self.next)
            .map_or(self.text.len(), |(p, _)| *p);
        PolicyError::Syntax {
            policy: self.text.to_string(),
            position,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.next).map(|(_, t)| *t)
    }

    fn take(&mut self) -> Option<&'a str> {
        let token = self.peek();
        self.next += 1;
        token
    }

    fn expect(&mut self, want: &str) -> Result<(), PolicyError> {
        if self.peek() == Some(want) {
            self.next += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected '{want}'")))
        }
    }

    fn principal(&mut self) -> Result<Principal, PolicyError> {
        let Some(word) = self.peek() else {
            return Err(self.error("expected Org.role or Admins/Clients/Nodes/Members"));
        };
        let principal = match word.split_once('.') {
            Some((org, role)) => {
                let valid_org = !org.is_empty()
                    && org
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
                let role = PolicyRole::parse(role);
                match (valid_org, role) {
                    (true, Some(role)) => Principal::OrgRole {
                        org: org.to_string(),
                        role,
                    },
                    (false, _) => {
                        return Err(self.error(format!("invalid organization in {word:?}")));
                    }
                    (true, None) => {
                        return Err(self.error(format!(
                            "unknown role in {word:?}: use admin, client, node or member"
                        )));
                    }
                }
            }
            None => {
                let role = word
                    .strip_suffix('s')
                    .map(str::to_ascii_lowercase)
                    .and_then(|r| PolicyRole::parse(&r));
                match role {
                    Some(role) => Principal::EveryOrg(role),
                    None => {
                        return Err(self.error(format!(
                            "expected Org.role or Admins/Clients/Nodes/Members, found {word:?}"
                        )));
                    }
                }
            }
        };
        self.next += 1;
        Ok(principal)
    }

    fn policy(&mut self, depth: usize) -> Result<Policy, PolicyError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        match self.peek() {
            Some("ANY") => {
                self.next += 1;
                Ok(Policy::Any(self.principal()?))
            }
            Some(word @ ("ALL" | "MAJORITY")) => {
                self.next += 1;
                match self.principal()? {
                    Principal::EveryOrg(role) if word == "ALL" => Ok(Policy::All(role)),
                    Principal::EveryOrg(role) => Ok(Policy::Majority(role)),
                    Principal::OrgRole { .. } => {
                        self.next -= 1;
                        Err(self.error(format!(
                            "{word} counts organizations (e.g. {word} Admins); for one organization write ANY Org.role"
                        )))
                    }
                }
            }
            Some(word) if word.chars().all(|c| c.is_ascii_digit()) => {
                let required: usize = word
                    .parse()
                    .map_err(|_| self.error("number out of range"))?;
                self.next += 1;
                self.expect("OF")?;
                self.expect("(")?;
                let mut of = vec![self.policy(depth + 1)?];
                while self.peek() == Some(",") {
                    self.next += 1;
                    of.push(self.policy(depth + 1)?);
                }
                self.expect(")")?;
                if required == 0 || required > of.len() {
                    return Err(PolicyError::Syntax {
                        policy: self.text.to_string(),
                        position: 0,
                        message: format!(
                            "{required} OF a list of {} can never be met sensibly",
                            of.len()
                        ),
                    });
                }
                Ok(Policy::OutOf { required, of })
            }
            // A bare principal inside a list means ANY of it.
            Some(_) => Ok(Policy::Any(self.principal()?)),
            None => Err(self.error("empty policy")),
        }
    }
}

impl FromStr for Policy {
    type Err = PolicyError;

    fn from_str(text: &str) -> Result<Self, PolicyError> {
        let mut parser = Parser::new(text);
        let policy = parser.policy(0)?;
        if parser.take().is_some() {
            parser.next -= 1;
            return Err(parser.error("unexpected text after the policy"));
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs() -> Vec<String> {
        ["Org1", "Org2", "Org3", "Org4"].map(String::from).to_vec()
    }

    fn signer(org: &str, role: PolicyRole) -> Signer {
        Signer {
            org: org.into(),
            role,
        }
    }

    fn satisfied(policy: &str, signers: &[Signer]) -> bool {
        policy
            .parse::<Policy>()
            .unwrap_or_else(|e| panic!("{e}"))
            .is_satisfied(signers, &orgs())
    }

    #[test]
    fn any_needs_the_named_org_and_role() {
        let client1 = signer("Org1", PolicyRole::Client);
        assert!(satisfied("ANY Org1.client", std::slice::from_ref(&client1)));
        assert!(!satisfied(
            "ANY Org2.client",
            std::slice::from_ref(&client1)
        ));
        assert!(!satisfied("ANY Org1.admin", std::slice::from_ref(&client1)));
        assert!(satisfied("ANY Org1.member", std::slice::from_ref(&client1)));
        assert!(satisfied("ANY Members", std::slice::from_ref(&client1)));
        assert!(!satisfied("ANY Admins", &[client1]));
        assert!(!satisfied("ANY Members", &[]));
    }

    #[test]
    fn majority_and_all_count_organizations_not_signatures() {
        let a = |o: &str| signer(o, PolicyRole::Admin);
        assert!(!satisfied("MAJORITY Admins", &[a("Org1"), a("Org2")]));
        assert!(!satisfied(
            "MAJORITY Admins",
            &[a("Org1"), a("Org1"), a("Org1")]
        ));
        assert!(satisfied(
            "MAJORITY Admins",
            &[a("Org1"), a("Org2"), a("Org3")]
        ));
        assert!(!satisfied("ALL Admins", &[a("Org1"), a("Org2"), a("Org3")]));
        assert!(satisfied(
            "ALL Admins",
            &[a("Org1"), a("Org2"), a("Org3"), a("Org4")]
        ));
        // A client signature does not count as an admin's.
        let c = signer("Org4", PolicyRole::Client);
        assert!(!satisfied(
            "ALL Admins",
            &[a("Org1"), a("Org2"), a("Org3"), c]
        ));
    }

    #[test]
    fn n_of_nests_and_bare_principals_mean_any() {
        let policy = "2 OF (Org1.admin, Org2.admin, 1 OF (Org3.admin, ANY Org4.node))";
        let a = |o: &str| signer(o, PolicyRole::Admin);
        assert!(satisfied(policy, &[a("Org1"), a("Org2")]));
        assert!(satisfied(
            policy,
            &[a("Org1"), signer("Org4", PolicyRole::Node)]
        ));
        assert!(!satisfied(
            policy,
            &[a("Org1"), signer("Org4", PolicyRole::Client)]
        ));
        assert!(!satisfied(policy, &[a("Org3")]));
    }

    #[test]
    fn policies_print_in_their_own_syntax_and_parse_back() {
        for text in [
            "ANY Org1.client",
            "MAJORITY Admins",
            "ALL Members",
            "2 OF (ANY Org1.admin, ANY Org2.admin, ANY Org3.admin)",
        ] {
            let policy: Policy = text.parse().expect("parses");
            assert_eq!(policy.to_string(), text);
            assert_eq!(policy.to_string().parse::<Policy>().expect("again"), policy);
        }
    }

    #[test]
    fn malformed_policies_say_what_is_wrong_and_where() {
        let cases = [
            ("", "empty policy"),
            ("ANY", "expected Org.role"),
            ("ANY Org1.owner", "unknown role"),
            ("ANY Org1.admin extra", "unexpected text"),
            ("2 OF (Org1.admin", "expected ')'"),
            ("3 OF (Org1.admin, Org2.admin)", "can never be met"),
            ("0 OF (Org1.admin)", "can never be met"),
            ("SOME Org1.admin", "expected Org.role"),
            ("ANY Org$.admin", "invalid organization"),
            ("ALL Org1.admin", "counts organizations"),
        ];
        for (text, expected) in cases {
            let err = text.parse::<Policy>().expect_err(text).to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        let deep = format!("{}ANY Admins{}", "1 OF (".repeat(20), ")".repeat(20));
        assert!(
            deep.parse::<Policy>()
                .expect_err("too deep")
                .to_string()
                .contains("nested")
        );
    }

    #[test]
    fn policies_naming_non_member_orgs_are_refused() {
        let policy: Policy = "2 OF (Org1.admin, Org9.admin)".parse().expect("parses");
        assert_eq!(
            policy.check_orgs(&orgs()),
            Err(PolicyError::UnknownOrg("Org9".into()))
        );
        let policy: Policy = "MAJORITY Admins".parse().expect("parses");
        assert_eq!(policy.check_orgs(&orgs()), Ok(()));
    }
}
