//! A typed view over solc's compact JSON AST. The AST's shape changed across releases (0.4's
//! `isConstructor` and `constant` became `kind` and `stateMutability`; `Throw` went, `Emit`,
//! `UncheckedBlock` and `TryStatement` came); the accessors here answer one question each the
//! same way for every release, so detectors never look at a release.

use crate::source::Span;
use serde_json::Value;

/// One AST node (an object with a `nodeType`).
#[derive(Clone, Copy, Debug)]
pub struct Node<'a>(pub &'a Value);

impl<'a> Node<'a> {
    /// `value` as a node, if it is one.
    pub fn from(value: &'a Value) -> Option<Self> {
        value.get("nodeType").is_some().then_some(Self(value))
    }

    pub fn kind(&self) -> &'a str {
        self.0["nodeType"].as_str().unwrap_or_default()
    }

    pub fn is(&self, kind: &str) -> bool {
        self.kind() == kind
    }

    pub fn id(&self) -> Option<i64> {
        self.0["id"].as_i64()
    }

    pub fn span(&self) -> Option<Span> {
        Span::parse(self.0["src"].as_str()?)
    }

    pub fn str(&self, field: &str) -> Option<&'a str> {
        self.0.get(field)?.as_str()
    }

    pub fn flag(&self, field: &str) -> bool {
        self.0.get(field).and_then(Value::as_bool).unwrap_or(false)
    }

    /// The child node in `field`.
    pub fn child(&self, field: &str) -> Option<Node<'a>> {
        Node::from(self.0.get(field)?)
    }

    /// The child nodes listed in `field` (absent entries, solc's `null`s, skipped).
    pub fn children(self, field: &str) -> impl Iterator<Item = Node<'a>> + use<'a> {
        self.0
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Node::from)
    }

    /// Every node directly below this one, in source order of the fields solc writes.
    pub fn subnodes(&self) -> Vec<Node<'a>> {
        // Every walk down the tree comes through here: the check's time limit is kept here.
        crate::deadline::step();
        let mut found = Vec::new();
        if let Some(object) = self.0.as_object() {
            for (field, value) in object {
                // `typeDescriptions`, `documentation` objects and the like have no nodeType.
                if field == "typeName" && self.is("VariableDeclaration") {
                    continue;
                }
                match value {
                    Value::Object(_) => found.extend(Node::from(value)),
                    Value::Array(items) => found.extend(items.iter().filter_map(Node::from)),
                    _ => {}
                }
            }
        }
        found.sort_by_key(|n| n.span().map_or(usize::MAX, |s| s.start));
        found
    }

    /// For an `InlineAssembly` node: the Solidity declaration a Yul identifier at `src` names.
    pub fn assembly_reference(&self, src: &str) -> Option<i64> {
        self.assembly_entries()
            .find(|entry| entry["src"].as_str() == Some(src))?["declaration"]
            .as_i64()
    }

    /// For an `InlineAssembly` node: every Solidity declaration its Yul code names.
    pub fn assembly_references(&self) -> impl Iterator<Item = i64> + 'a {
        self.assembly_entries()
            .filter_map(|entry| entry["declaration"].as_i64())
    }

    /// solc lists an assembly block's Solidity names in `externalReferences`: entries with
    /// `declaration` and `src` since 0.6, each under its name before.
    fn assembly_entries(&self) -> impl Iterator<Item = &'a Value> + 'a {
        self.0
            .get("externalReferences")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                if entry.get("declaration").is_some() {
                    Some(entry)
                } else {
                    entry.as_object()?.values().next()
                }
            })
    }

    /// The declaration an identifier, member access or type name refers to.
    pub fn referenced(&self) -> Option<i64> {
        self.0["referencedDeclaration"].as_i64()
    }

    /// solc's type of an expression, e.g. `uint256`, `address payable`, `mapping(...)`.
    pub fn type_string(&self) -> &'a str {
        self.0["typeDescriptions"]["typeString"]
            .as_str()
            .unwrap_or_default()
    }

    /// solc's type identifier, e.g. `t_struct$_Holder_$106_storage_ptr` (0.4's `var` leaves the
    /// type string without the data location; the identifier always has it).
    pub fn type_identifier(&self) -> &'a str {
        self.0["typeDescriptions"]["typeIdentifier"]
            .as_str()
            .unwrap_or_default()
    }

    pub fn name(&self) -> &'a str {
        self.str("name").unwrap_or_default()
    }

    /// Calls `visit` on this node and every node below it, depth first, with the path of
    /// ancestors (nearest last); `visit` returns false to skip a node's subtree.
    pub fn walk(&self, visit: &mut dyn FnMut(Node<'a>, &[Node<'a>]) -> bool) {
        let mut path = Vec::new();
        walk(*self, &mut path, visit);
    }

    /// Whether any node below (or this one) satisfies `test`.
    pub fn any(&self, test: &mut dyn FnMut(Node<'a>) -> bool) -> bool {
        let mut found = false;
        self.walk(&mut |node, _| {
            if !found && test(node) {
                found = true;
            }
            !found
        });
        found
    }
}

fn walk<'a>(
    node: Node<'a>,
    path: &mut Vec<Node<'a>>,
    visit: &mut dyn FnMut(Node<'a>, &[Node<'a>]) -> bool,
) {
    if !visit(node, path) {
        return;
    }
    path.push(node);
    for child in node.subnodes() {
        walk(child, path, visit);
    }
    path.pop();
}

/// What kind of function a `FunctionDefinition` is, whatever the release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    Constructor,
    Fallback,
    Receive,
    Function,
}

/// A `FunctionDefinition` or `ModifierDefinition`.
#[derive(Clone, Copy, Debug)]
pub struct Function<'a>(pub Node<'a>);

impl<'a> Function<'a> {
    pub fn node(&self) -> Node<'a> {
        self.0
    }

    pub fn name(&self) -> &'a str {
        self.0.name()
    }

    /// How messages name it: `` `withdraw` ``, or "the fallback function" (0.4's is unnamed).
    pub fn display_name(&self) -> String {
        if self.name().is_empty() {
            "the fallback function".into()
        } else {
            format!("`{}`", self.name())
        }
    }

    pub fn is_modifier(&self) -> bool {
        self.0.is("ModifierDefinition")
    }

    pub fn kind(&self) -> FunctionKind {
        match self.0.str("kind") {
            Some("constructor") => FunctionKind::Constructor,
            Some("fallback") => FunctionKind::Fallback,
            Some("receive") => FunctionKind::Receive,
            Some(_) => FunctionKind::Function,
            // 0.4: a flag, and the fallback is the unnamed function.
            None if self.0.flag("isConstructor") => FunctionKind::Constructor,
            None if self.name().is_empty() && !self.is_modifier() => FunctionKind::Fallback,
            None => FunctionKind::Function,
        }
    }

    /// `public`, `external`, `internal` or `private` (0.4's default is public).
    pub fn visibility(&self) -> &'a str {
        self.0.str("visibility").unwrap_or("public")
    }

    /// Callable by a transaction.
    pub fn is_entry(&self) -> bool {
        !self.is_modifier()
            && matches!(self.visibility(), "public" | "external")
            && self.kind() != FunctionKind::Constructor
    }

    /// `pure`, `view`, `payable` or `nonpayable`.
    pub fn mutability(&self) -> &'a str {
        match self.0.str("stateMutability") {
            Some(m) => m,
            None if self.0.flag("constant") => "view",
            None if self.0.flag("payable") => "payable",
            None => "nonpayable",
        }
    }

    pub fn is_view(&self) -> bool {
        matches!(self.mutability(), "view" | "pure" | "constant")
    }

    /// The values its `return` statements give, if it has a body and every `return` gives one.
    pub fn returned_values(&self) -> Option<Vec<Node<'a>>> {
        let body = self.body()?;
        let mut values = Vec::new();
        let mut bare = false;
        body.walk(&mut |node, _| {
            if node.is("Return") {
                match node.child("expression") {
                    Some(value) => values.push(value),
                    None => bare = true,
                }
            }
            true
        });
        (!bare && !values.is_empty()).then_some(values)
    }

    pub fn body(&self) -> Option<Node<'a>> {
        self.0.child("body")
    }

    /// The declarations of the parameters.
    pub fn parameters(&self) -> impl Iterator<Item = Node<'a>> + use<'a> {
        self.0
            .child("parameters")
            .into_iter()
            .flat_map(|p| p.children("parameters"))
    }

    /// The modifiers it is declared with, as the ids of their definitions (base constructor
    /// calls, which are written the same way, name contracts and are left out by callers).
    pub fn modifier_ids(&self) -> Vec<i64> {
        self.0
            .children("modifiers")
            .filter_map(|m| m.child("modifierName").and_then(|n| n.referenced()))
            .collect()
    }
}

/// The values `call` passes to `callee`'s parameters, in order: its arguments, after the
/// receiver when `callee` is a library function bound with `using for` (`x.sub(v)` passes `x`,
/// then `v`), and named arguments (`f({to: a, amount: v})`) in the order of the parameters.
pub fn arguments_for<'a>(call: Node<'a>, callee: Function<'_>) -> Vec<Node<'a>> {
    let mut arguments: Vec<Node<'a>> = call.children("arguments").collect();
    let names: Vec<&str> = call
        .0
        .get("names")
        .and_then(|n| n.as_array())
        .map(|n| n.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    if !names.is_empty() {
        return callee
            .parameters()
            .map_while(|parameter| {
                let position = names.iter().position(|n| *n == parameter.name())?;
                arguments.get(position).copied()
            })
            .collect();
    }
    if arguments.len() + 1 == callee.parameters().count()
        && let Some(receiver) = call.child("expression").and_then(|c| c.child("expression"))
    {
        arguments.insert(0, receiver);
    }
    arguments
}

/// The expression a call calls, with `.value(…)`/`.gas(…)` (0.4–0.6) and `{value: …}` (0.6+)
/// peeled off: for `a.call.value(1)("")` it is `a.call`.
pub fn callee(call: Node<'_>) -> Option<Node<'_>> {
    let mut expression = call.child("expression")?;
    loop {
        match expression.kind() {
            "FunctionCallOptions" => expression = expression.child("expression")?,
            "FunctionCall" => {
                let inner = expression.child("expression")?;
                if inner.is("MemberAccess") && matches!(inner.name_of_member(), "value" | "gas") {
                    expression = inner.child("expression")?;
                } else {
                    return Some(expression);
                }
            }
            _ => return Some(expression),
        }
    }
}

/// Members that take tokens from an account: ERC-20's `transferFrom`, ERC-721's and ERC-1155's
/// `safeTransferFrom` / `safeBatchTransferFrom`, SafeERC20's `safeTransferFrom`.
pub const TOKEN_PULLS: [&str; 3] = ["transferFrom", "safeTransferFrom", "safeBatchTransferFrom"];

/// Members that move tokens the contract holds or lets others move.
pub const TOKEN_HOLDINGS: [&str; 6] = [
    "transfer",
    "safeTransfer",
    "approve",
    "safeApprove",
    "forceApprove",
    "safeIncreaseAllowance",
];

/// A call of member `names` on a token: another contract (`token.transferFrom(…)`, also through
/// a library bound with `using … for`) or a library given the token first
/// (`SafeERC20.safeTransferFrom(token, …)`). The call's arguments after the token.
pub fn token_call<'a>(call: Node<'a>, names: &[&str]) -> Option<Vec<Node<'a>>> {
    let target = callee(call)?;
    if !target.is("MemberAccess") || !names.contains(&target.name_of_member()) {
        return None;
    }
    let base = target.child("expression")?;
    let arguments: Vec<Node<'a>> = call.children("arguments").collect();
    let base_type = base.type_string();
    if base_type.starts_with("type(library ") {
        return Some(arguments.into_iter().skip(1).collect());
    }
    let on_token =
        base_type.starts_with("contract ") && !(base.is("Identifier") && base.name() == "this");
    // `using SafeTransferLib for address`: a library function bound to an address.
    let bound_to_address = base_type.starts_with("address")
        && !target.type_identifier().starts_with("t_function_external")
        && !matches!(target.name_of_member(), "transfer" | "send");
    (on_token || bound_to_address).then_some(arguments)
}

/// A call of a member of an address (`to.transfer(v)`, `to.call.value(v)(…)`): the address
/// and the member's name.
pub fn address_member_call(call: Node<'_>) -> Option<(Node<'_>, &str)> {
    let target = callee(call)?;
    if !target.is("MemberAccess") {
        return None;
    }
    let recipient = target.child("expression")?;
    recipient
        .type_string()
        .starts_with("address")
        .then(|| (recipient, target.name_of_member()))
}

/// A payment `to.transfer(v)`, `to.send(v)` or `to.call.value(v)(…)` / `to.call{value: v}(…)`:
/// its recipient and amount.
pub fn payment<'a>(call: Node<'a>) -> Option<(Node<'a>, Node<'a>)> {
    let (recipient, member) = address_member_call(call)?;
    match member {
        "transfer" | "send" => Some((recipient, call.children("arguments").next()?)),
        "call" => {
            // `.value(v)` (before 0.7) or `{value: v}` between the call and its target.
            let mut amount = None;
            let mut expression = call.child("expression")?;
            while expression.is("FunctionCall") || expression.is("FunctionCallOptions") {
                if expression.is("FunctionCallOptions") {
                    let names: Vec<&str> = expression
                        .0
                        .get("names")
                        .and_then(|n| n.as_array())
                        .map(|n| n.iter().filter_map(|v| v.as_str()).collect())
                        .unwrap_or_default();
                    if let Some(i) = names.iter().position(|n| *n == "value") {
                        amount = expression.children("options").nth(i);
                    }
                } else if let Some(inner) = expression.child("expression")
                    && inner.is("MemberAccess")
                    && inner.name_of_member() == "value"
                {
                    amount = expression.children("arguments").next();
                }
                expression = expression.child("expression")?;
                if expression.is("MemberAccess") && expression.name_of_member() == "value" {
                    expression = expression.child("expression")?;
                }
            }
            amount.map(|a| (recipient, a))
        }
        _ => None,
    }
}

/// `x` for `uint(x)`, `payable(x)`, `(x)` and `uint(uint160(x))`: the value under conversions
/// and parentheses.
/// Where the value `node` is used, given its ancestors `path` (nearest last): the first ancestor
/// that does more than pass the value on, the value as that ancestor sees it, and the ancestors
/// above it. Conversions and parentheses always pass the value on; `passes_on(ancestor, value)`
/// may let more through (`24 * slot`).
pub fn use_site<'a, 'p>(
    node: Node<'a>,
    path: &'p [Node<'a>],
    passes_on: impl Fn(Node<'a>, Node<'a>) -> bool,
) -> Option<(
    Node<'a>,
    Node<'a>,
    std::iter::Rev<std::slice::Iter<'p, Node<'a>>>,
)> {
    let mut value = node;
    let mut ancestors = path.iter().rev();
    loop {
        let parent = *ancestors.next()?;
        if unconverted(parent).id() == unconverted(value).id() || passes_on(parent, value) {
            value = parent;
        } else {
            return Some((parent, value, ancestors));
        }
    }
}

/// Whether `node` is the literal zero (`0`, `0x0`; `address(0)` once [`unconverted`]).
pub fn is_zero_literal(node: Node<'_>) -> bool {
    node.is("Literal") && matches!(node.str("value"), Some("0" | "0x0"))
}

pub fn unconverted(node: Node<'_>) -> Node<'_> {
    let mut node = node;
    loop {
        let inner = match node.kind() {
            "TupleExpression" => node.children("components").collect::<Vec<_>>(),
            "FunctionCall" if node.str("kind") == Some("typeConversion") => {
                node.children("arguments").collect()
            }
            _ => return node,
        };
        match inner[..] {
            [one] => node = one,
            _ => return node,
        }
    }
}

impl<'a> Node<'a> {
    /// The member a `MemberAccess` names.
    pub fn name_of_member(&self) -> &'a str {
        self.str("memberName").unwrap_or_default()
    }

    /// Whether this is `base.member` with `base` the global `base` (`block.number`, `tx.origin`):
    /// solc types the globals `msg`, `block` and `tx` as magic.
    pub fn is_global_member(&self, base: &str, member: &str) -> bool {
        self.is("MemberAccess")
            && self.name_of_member() == member
            && self.child("expression").is_some_and(|e| {
                e.is("Identifier")
                    && e.name() == base
                    && e.0["typeDescriptions"]["typeIdentifier"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("t_magic"))
            })
    }
}
