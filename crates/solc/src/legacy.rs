//! Releases before 0.4.11 write only solc's legacy JSON AST: `name` for the node type, the
//! node's facts in `attributes`, its parts as a positional `children` list, and no links between
//! a use and its declaration. This turns it into the compact AST later releases write (parts in
//! named fields, `referencedDeclaration` on identifiers, modifier and member references,
//! `typeDescriptions`), so whatever reads ASTs reads one shape for every release.
//!
//! References are resolved by solc 0.4's own scoping: a function's parameters and every local
//! it declares (0.4 scopes locals to the whole function), then the members of the contract and
//! of its bases in linearization order, then contracts by name. Overloads resolve to the first
//! declaration of the name. Type identifiers are derived from the type strings; they carry what
//! readers ask of them (magic globals, external functions, storage pointers), not solc's full
//! encoding.

use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Node types that are expressions (a loop's condition, not its body).
const EXPRESSIONS: &[&str] = &[
    "Assignment",
    "TupleExpression",
    "UnaryOperation",
    "BinaryOperation",
    "Conditional",
    "FunctionCall",
    "NewExpression",
    "MemberAccess",
    "IndexAccess",
    "Identifier",
    "ElementaryTypeNameExpression",
    "Literal",
];

/// Node types that name a type (a declaration's first part, when it has one: `var` has none).
const TYPE_NAMES: &[&str] = &[
    "ElementaryTypeName",
    "UserDefinedTypeName",
    "Mapping",
    "ArrayTypeName",
    "FunctionTypeName",
];

/// Converts, in place, every unit of a standard-JSON `sources` object that has a `legacyAST`
/// and no `ast`; `texts` gives each unit's source text by name.
pub(crate) fn convert_units(sources: &mut Map<String, Value>, texts: &HashMap<String, String>) {
    let legacy: Vec<String> = sources
        .iter()
        .filter(|(_, unit)| unit.get("ast").is_none() && unit["legacyAST"].is_object())
        .map(|(name, _)| name.clone())
        .collect();
    if legacy.is_empty() {
        return;
    }
    let mut scopes = Scopes::default();
    for name in &legacy {
        scopes.index_unit(&sources[name]["legacyAST"]);
    }
    // Source units have no id in the legacy AST: give them ids above every node's.
    let mut next_id = scopes.max_id + 1;
    for name in &legacy {
        let Some(unit) = sources.get_mut(name) else {
            continue;
        };
        let ast = unit["legacyAST"].take();
        let text = texts.get(name).map_or("", String::as_str);
        let converter = Converter {
            scopes: &scopes,
            text,
        };
        let mut compact = converter.node(&ast, &Context::default());
        compact["id"] = json!(next_id);
        compact["absolutePath"] = json!(name);
        // Nor a place: the whole text, in the file solc numbered it.
        compact["src"] = json!(format!(
            "0:{}:{}",
            text.len(),
            unit["id"].as_i64().unwrap_or(0)
        ));
        next_id += 1;
        if let Some(unit) = unit.as_object_mut() {
            unit.remove("legacyAST");
            unit.insert("ast".into(), compact);
        }
    }
}

/// What every contract declares, and the contracts by name.
#[derive(Default)]
struct Scopes {
    contracts: HashMap<String, i64>,
    /// Contract id → its linearization (itself first).
    linearized: HashMap<i64, Vec<i64>>,
    /// Contract id → member name → declaration ids, in source order.
    members: HashMap<i64, HashMap<String, Vec<i64>>>,
    max_id: i64,
}

impl Scopes {
    fn index_unit(&mut self, unit: &Value) {
        walk(unit, &mut |node| {
            self.max_id = self.max_id.max(node["id"].as_i64().unwrap_or(0));
        });
        for contract in children(unit).filter(|c| kind(c) == "ContractDefinition") {
            let Some(id) = contract["id"].as_i64() else {
                continue;
            };
            let attributes = &contract["attributes"];
            if let Some(name) = attributes["name"].as_str() {
                self.contracts.entry(name.to_owned()).or_insert(id);
            }
            let linearized = attributes["linearizedBaseContracts"]
                .as_array()
                .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_else(|| vec![id]);
            self.linearized.insert(id, linearized);
            let members = self.members.entry(id).or_default();
            for member in children(contract) {
                if let (Some(name), Some(member_id)) =
                    (member["attributes"]["name"].as_str(), member["id"].as_i64())
                    && kind(member) != "InheritanceSpecifier"
                    && kind(member) != "UsingForDirective"
                {
                    members.entry(name.to_owned()).or_default().push(member_id);
                }
            }
        }
    }

    /// `name` as a member of contract `contract` or of its bases (`skip_self`: `super`'s).
    fn member(&self, contract: i64, name: &str, skip_self: bool) -> Option<i64> {
        let order = self.linearized.get(&contract)?;
        order
            .iter()
            .skip(usize::from(skip_self))
            .find_map(|base| self.members.get(base)?.get(name)?.first().copied())
    }
}

/// Where a node is: the contract and function around it, with the function's local names.
#[derive(Clone, Default)]
struct Context {
    contract: Option<i64>,
    /// The enclosing function or modifier (the `scope` of its parameters and locals).
    function: Option<i64>,
    locals: HashMap<String, i64>,
    /// The parent's node type.
    parent: &'static str,
}

struct Converter<'s> {
    scopes: &'s Scopes,
    text: &'s str,
}

impl Converter<'_> {
    fn node(&self, legacy: &Value, context: &Context) -> Value {
        let node_type = kind(legacy);
        let attributes = legacy["attributes"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut compact = Map::new();
        compact.insert("id".into(), legacy["id"].clone());
        compact.insert("nodeType".into(), json!(node_type));
        compact.insert("src".into(), legacy["src"].clone());
        for (key, value) in &attributes {
            if key != "type" {
                compact.insert(key.clone(), value.clone());
            }
        }
        if let Some(type_string) = attributes.get("type").and_then(Value::as_str) {
            compact.insert(
                "typeDescriptions".into(),
                json!({ "typeString": type_string, "typeIdentifier": type_identifier(type_string) }),
            );
        }
        let mut inner = context.clone();
        inner.parent = static_kind(node_type);
        match node_type {
            "ContractDefinition" => {
                inner.contract = legacy["id"].as_i64();
                let is_library = attributes["isLibrary"].as_bool().unwrap_or(false);
                compact.insert(
                    "contractKind".into(),
                    json!(if is_library { "library" } else { "contract" }),
                );
            }
            "FunctionDefinition" | "ModifierDefinition" => {
                inner.function = legacy["id"].as_i64();
                inner.locals = HashMap::new();
                walk(legacy, &mut |n| {
                    if kind(n) == "VariableDeclaration"
                        && let (Some(name), Some(id)) =
                            (n["attributes"]["name"].as_str(), n["id"].as_i64())
                        && !name.is_empty()
                    {
                        inner.locals.entry(name.to_owned()).or_insert(id);
                    }
                });
            }
            _ => {}
        }
        let parts: Vec<Value> = children(legacy).map(|c| self.node(c, &inner)).collect();
        let name = |v: &Value| v["nodeType"].as_str().unwrap_or_default().to_owned();
        let is_expression = |v: &Value| EXPRESSIONS.contains(&name(v).as_str());
        let mut set = |field: &str, value: Value| {
            compact.insert(field.into(), value);
        };
        match node_type {
            "SourceUnit" => {
                let exported: Map<String, Value> = parts
                    .iter()
                    .filter(|p| name(p) == "ContractDefinition")
                    .filter_map(|p| Some((p["name"].as_str()?.to_owned(), json!([p["id"]]))))
                    .collect();
                set("exportedSymbols", Value::Object(exported));
                set("nodes", Value::Array(parts));
            }
            "ContractDefinition" => {
                let (bases, nodes): (Vec<Value>, Vec<Value>) = parts
                    .into_iter()
                    .partition(|p| name(p) == "InheritanceSpecifier");
                set("baseContracts", Value::Array(bases));
                set("nodes", Value::Array(nodes));
            }
            "InheritanceSpecifier" | "ModifierInvocation" => {
                let mut parts = parts.into_iter();
                let field = if node_type == "ModifierInvocation" {
                    "modifierName"
                } else {
                    "baseName"
                };
                set(field, parts.next().unwrap_or(Value::Null));
                set("arguments", Value::Array(parts.collect()));
            }
            "FunctionDefinition" => {
                let function_name = attributes["name"].as_str().unwrap_or_default();
                let contract_name = context
                    .contract
                    .and_then(|c| self.scopes.contracts.iter().find(|(_, id)| **id == c))
                    .map(|(name, _)| name.as_str());
                set(
                    "isConstructor",
                    json!(!function_name.is_empty() && Some(function_name) == contract_name),
                );
                let mut lists = parts.iter().filter(|p| name(p) == "ParameterList");
                set("parameters", lists.next().cloned().unwrap_or(Value::Null));
                set(
                    "returnParameters",
                    lists.next().cloned().unwrap_or(Value::Null),
                );
                let modifiers: Vec<Value> = parts
                    .iter()
                    .filter(|p| name(p) == "ModifierInvocation")
                    .cloned()
                    .collect();
                set("modifiers", Value::Array(modifiers));
                let body = parts.iter().find(|p| name(p) == "Block").cloned();
                set("implemented", json!(body.is_some()));
                set("body", body.unwrap_or(Value::Null));
            }
            "ModifierDefinition" => {
                set("visibility", json!("internal"));
                let mut parts = parts.into_iter();
                set("parameters", parts.next().unwrap_or(Value::Null));
                set("body", parts.next().unwrap_or(Value::Null));
            }
            "EventDefinition" => {
                set(
                    "parameters",
                    parts.into_iter().next().unwrap_or(Value::Null),
                );
            }
            "ParameterList" => set("parameters", Value::Array(parts)),
            "StructDefinition" | "EnumDefinition" => set("members", Value::Array(parts)),
            "VariableDeclaration" => self.variable(legacy, &attributes, parts, context, &mut set),
            "Block" => set("statements", Value::Array(parts)),
            "ExpressionStatement" => set("expression", first(parts)),
            "Return" => set("expression", first(parts)),
            "VariableDeclarationStatement" => {
                let (declarations, values): (Vec<Value>, Vec<Value>) = parts
                    .into_iter()
                    .partition(|p| name(p) == "VariableDeclaration");
                set(
                    "assignments",
                    Value::Array(declarations.iter().map(|d| d["id"].clone()).collect()),
                );
                set("declarations", Value::Array(declarations));
                set("initialValue", first(values));
            }
            "IfStatement" => {
                let mut parts = parts.into_iter();
                set("condition", parts.next().unwrap_or(Value::Null));
                set("trueBody", parts.next().unwrap_or(Value::Null));
                set("falseBody", parts.next().unwrap_or(Value::Null));
            }
            "WhileStatement" | "DoWhileStatement" => {
                let (conditions, bodies): (Vec<Value>, Vec<Value>) =
                    parts.into_iter().partition(|p| is_expression(p));
                set("condition", first(conditions));
                set("body", first(bodies));
            }
            "ForStatement" => {
                let mut parts = parts;
                let body = parts.pop().unwrap_or(Value::Null);
                // Which header part a statement is (both may be absent): the part before the
                // header's first `;` initialises, the one after it loops.
                let first_semicolon = span_start(legacy).and_then(|start| {
                    self.text
                        .get(start..)?
                        .find(';')
                        .map(|offset| start + offset)
                });
                let (mut init, mut condition, mut step) = (Value::Null, Value::Null, Value::Null);
                for part in parts {
                    if is_expression(&part) {
                        condition = part;
                    } else if span_start(&part)
                        .zip(first_semicolon)
                        .is_some_and(|(start, semicolon)| start < semicolon)
                    {
                        init = part;
                    } else {
                        step = part;
                    }
                }
                set("initializationExpression", init);
                set("condition", condition);
                set("loopExpression", step);
                set("body", body);
            }
            "Assignment" => {
                let mut parts = parts.into_iter();
                set("leftHandSide", parts.next().unwrap_or(Value::Null));
                set("rightHandSide", parts.next().unwrap_or(Value::Null));
            }
            "BinaryOperation" => {
                let mut parts = parts.into_iter();
                set("leftExpression", parts.next().unwrap_or(Value::Null));
                set("rightExpression", parts.next().unwrap_or(Value::Null));
            }
            "UnaryOperation" => set("subExpression", first(parts)),
            "Conditional" => {
                let mut parts = parts.into_iter();
                set("condition", parts.next().unwrap_or(Value::Null));
                set("trueExpression", parts.next().unwrap_or(Value::Null));
                set("falseExpression", parts.next().unwrap_or(Value::Null));
            }
            "FunctionCall" => {
                let mut parts = parts.into_iter();
                let callee = parts.next().unwrap_or(Value::Null);
                let call_kind = if attributes["type_conversion"].as_bool() == Some(true) {
                    "typeConversion"
                } else if callee["typeDescriptions"]["typeString"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("type(struct"))
                {
                    "structConstructorCall"
                } else {
                    "functionCall"
                };
                set("kind", json!(call_kind));
                if !attributes.contains_key("names") {
                    set("names", json!([]));
                }
                set("expression", callee);
                set("arguments", Value::Array(parts.collect()));
            }
            "NewExpression" => set("typeName", first(parts)),
            "MemberAccess" => {
                let member = attributes["member_name"].as_str().unwrap_or_default();
                let base = parts.into_iter().next().unwrap_or(Value::Null);
                let base_type = base["typeDescriptions"]["typeString"]
                    .as_str()
                    .unwrap_or_default();
                set("memberName", json!(member));
                set(
                    "referencedDeclaration",
                    json!(self.member_of_type(base_type, member)),
                );
                set("expression", base);
            }
            "IndexAccess" => {
                let mut parts = parts.into_iter();
                set("baseExpression", parts.next().unwrap_or(Value::Null));
                set("indexExpression", parts.next().unwrap_or(Value::Null));
            }
            "Identifier" => {
                let identifier = attributes["value"].as_str().unwrap_or_default();
                set("name", json!(identifier));
                set("overloadedDeclarations", json!([]));
                set(
                    "referencedDeclaration",
                    json!(self.resolve(identifier, context)),
                );
            }
            "UserDefinedTypeName" => {
                let type_name = attributes["name"].as_str().unwrap_or_default();
                set(
                    "referencedDeclaration",
                    json!(self.resolve_type(type_name, context)),
                );
            }
            "ElementaryTypeNameExpression" => {
                set("typeName", attributes["value"].clone());
            }
            "Literal" => {
                let token = attributes["token"].as_str();
                let literal_kind = match (token, attributes["value"].as_str()) {
                    (Some("string"), _) => "string",
                    (_, Some("true" | "false")) => "bool",
                    _ => "number",
                };
                set("kind", json!(literal_kind));
                set("hexValue", attributes["hexvalue"].clone());
            }
            "TupleExpression" => set("components", Value::Array(parts)),
            "Mapping" => {
                let mut parts = parts.into_iter();
                set("keyType", parts.next().unwrap_or(Value::Null));
                set("valueType", parts.next().unwrap_or(Value::Null));
            }
            "ArrayTypeName" => {
                let mut parts = parts.into_iter();
                set("baseType", parts.next().unwrap_or(Value::Null));
                set("length", parts.next().unwrap_or(Value::Null));
            }
            "FunctionTypeName" => {
                let mut parts = parts.into_iter();
                set("parameterTypes", parts.next().unwrap_or(Value::Null));
                set("returnParameterTypes", parts.next().unwrap_or(Value::Null));
            }
            "UsingForDirective" => {
                let mut parts = parts.into_iter();
                set("libraryName", parts.next().unwrap_or(Value::Null));
                set("typeName", parts.next().unwrap_or(Value::Null));
            }
            "InlineAssembly" => {
                let operations = span_of(legacy)
                    .and_then(|(start, length)| self.text.get(start..start + length))
                    .unwrap_or_default();
                set("operations", json!(operations));
                set("externalReferences", json!([]));
            }
            // Leaves (`Throw`, `Break`, `Continue`, `PlaceholderStatement`, pragmas, imports,
            // elementary type names): their attributes are all there is. Anything unknown keeps
            // its parts, so walks still reach them.
            _ => {
                if !parts.is_empty() {
                    set("children", Value::Array(parts));
                }
            }
        }
        Value::Object(compact)
    }

    fn variable(
        &self,
        legacy: &Value,
        attributes: &Map<String, Value>,
        parts: Vec<Value>,
        context: &Context,
        set: &mut dyn FnMut(&str, Value),
    ) {
        let state = context.parent == "ContractDefinition";
        let mut parts = parts.into_iter().peekable();
        let type_name = parts
            .next_if(|p| TYPE_NAMES.contains(&p["nodeType"].as_str().unwrap_or_default()))
            .unwrap_or(Value::Null);
        set("typeName", type_name);
        set("value", parts.next().unwrap_or(Value::Null));
        set("stateVariable", json!(state));
        set(
            "scope",
            json!(if state {
                context.contract
            } else {
                context.function
            }),
        );
        // 0.4.9's legacy AST leaves out the keywords: read them from the declaration's text,
        // before its name.
        let name = attributes["name"].as_str().unwrap_or_default();
        let keywords: Vec<&str> = span_of(legacy)
            .and_then(|(start, length)| self.text.get(start..start + length))
            .map(|text| {
                text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .take_while(|word| *word != name)
                    .collect()
            })
            .unwrap_or_default();
        let visibility = ["public", "private", "internal"]
            .into_iter()
            .find(|v| keywords.contains(v))
            .unwrap_or("internal");
        set("visibility", json!(visibility));
        set("constant", json!(keywords.contains(&"constant")));
        let location = ["storage", "memory"]
            .into_iter()
            .find(|l| keywords.contains(l))
            .unwrap_or("default");
        set("storageLocation", json!(location));
    }

    /// What identifier `name` refers to where `context` is.
    fn resolve(&self, name: &str, context: &Context) -> Option<i64> {
        if let Some(id) = context.locals.get(name) {
            return Some(*id);
        }
        if let Some(member) = context
            .contract
            .and_then(|c| self.scopes.member(c, name, false))
        {
            return Some(member);
        }
        self.scopes.contracts.get(name).copied()
    }

    /// A type name: a struct or enum of the contract (or its bases), a contract, or
    /// `Contract.Struct`.
    fn resolve_type(&self, name: &str, context: &Context) -> Option<i64> {
        match name.rsplit_once('.') {
            Some((contract, member)) => {
                let contract = *self.scopes.contracts.get(contract)?;
                self.scopes.member(contract, member, false)
            }
            None => self.resolve(
                name,
                &Context {
                    locals: HashMap::new(),
                    ..context.clone()
                },
            ),
        }
    }

    /// The declaration `base.member` names when `base` has type `base_type`: a function of a
    /// contract (`this.f`, `token.f`, `super.f`) or of a library or contract type (`L.f`).
    fn member_of_type(&self, base_type: &str, member: &str) -> Option<i64> {
        let (contract, skip_self) = if let Some(name) = base_type.strip_prefix("contract super ") {
            (name, true)
        } else if let Some(name) = base_type.strip_prefix("contract ") {
            (name, false)
        } else if let Some(inner) = base_type
            .strip_prefix("type(")
            .and_then(|t| t.strip_suffix(')'))
        {
            let name = inner
                .strip_prefix("contract ")
                .or_else(|| inner.strip_prefix("library "))?;
            (name, false)
        } else {
            return None;
        };
        let id = *self.scopes.contracts.get(contract)?;
        self.scopes.member(id, member, skip_self)
    }
}

/// A compact type identifier for a legacy type string, carrying what readers ask of it.
fn type_identifier(type_string: &str) -> String {
    match type_string {
        "msg" => return "t_magic_message".into(),
        "block" => return "t_magic_block".into(),
        "tx" => return "t_magic_transaction".into(),
        _ => {}
    }
    let mut identifier =
        if type_string.starts_with("function ") || type_string.starts_with("function(") {
            if type_string.contains(" external") {
                "t_function_external".to_owned()
            } else {
                "t_function_internal".to_owned()
            }
        } else {
            let words: String = type_string
                .chars()
                .map(|c| if c.is_alphanumeric() { c } else { '_' })
                .collect();
            format!("t_{words}")
        };
    if type_string.ends_with("storage pointer") {
        identifier.push_str("_storage_ptr");
    } else if type_string.ends_with("memory") {
        identifier.push_str("_memory_ptr");
    }
    identifier
}

fn kind(node: &Value) -> &str {
    node["name"].as_str().unwrap_or_default()
}

fn children(node: &Value) -> impl Iterator<Item = &Value> {
    node["children"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c.is_object())
}

fn first(parts: Vec<Value>) -> Value {
    parts.into_iter().next().unwrap_or(Value::Null)
}

/// Every legacy node below `node` (and it), without recursing.
fn walk(node: &Value, visit: &mut dyn FnMut(&Value)) {
    let mut pending = vec![node];
    while let Some(node) = pending.pop() {
        visit(node);
        pending.extend(children(node));
    }
}

/// `start:length:file` of a legacy node, as byte offsets.
fn span_of(node: &Value) -> Option<(usize, usize)> {
    let mut parts = node["src"].as_str()?.split(':');
    let start = parts.next()?.parse().ok()?;
    let length = parts.next()?.parse().ok()?;
    Some((start, length))
}

fn span_start(node: &Value) -> Option<usize> {
    span_of(node).map(|(start, _)| start)
}

/// The parent kinds a conversion distinguishes, as `'static` names.
fn static_kind(node_type: &str) -> &'static str {
    match node_type {
        "ContractDefinition" => "ContractDefinition",
        "FunctionDefinition" => "FunctionDefinition",
        "ModifierDefinition" => "ModifierDefinition",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy(name: &str, id: i64, src: &str, attributes: Value, children: Vec<Value>) -> Value {
        json!({ "name": name, "id": id, "src": src, "attributes": attributes, "children": children })
    }

    /// `contract A { uint x; function f(uint n) { x = n; } }` as 0.4.9 writes it.
    fn unit() -> (Value, String) {
        let text = "contract A { uint x; function f(uint n) { x = n; } }".to_owned();
        let x = legacy(
            "VariableDeclaration",
            2,
            "13:6:0",
            json!({"name": "x", "type": "uint256"}),
            vec![legacy(
                "ElementaryTypeName",
                1,
                "13:4:0",
                json!({"name": "uint"}),
                vec![],
            )],
        );
        let n = legacy(
            "VariableDeclaration",
            4,
            "32:6:0",
            json!({"name": "n", "type": "uint256"}),
            vec![legacy(
                "ElementaryTypeName",
                3,
                "32:4:0",
                json!({"name": "uint"}),
                vec![],
            )],
        );
        let assignment = legacy(
            "Assignment",
            9,
            "42:5:0",
            json!({"operator": "=", "type": "uint256"}),
            vec![
                legacy(
                    "Identifier",
                    7,
                    "42:1:0",
                    json!({"value": "x", "type": "uint256"}),
                    vec![],
                ),
                legacy(
                    "Identifier",
                    8,
                    "46:1:0",
                    json!({"value": "n", "type": "uint256"}),
                    vec![],
                ),
            ],
        );
        let function = legacy(
            "FunctionDefinition",
            12,
            "21:30:0",
            json!({"name": "f", "constant": false, "payable": false, "visibility": "public"}),
            vec![
                legacy("ParameterList", 5, "31:8:0", json!({}), vec![n]),
                legacy("ParameterList", 6, "40:0:0", json!({}), vec![]),
                legacy(
                    "Block",
                    11,
                    "40:11:0",
                    json!({}),
                    vec![legacy(
                        "ExpressionStatement",
                        10,
                        "42:5:0",
                        json!({}),
                        vec![assignment],
                    )],
                ),
            ],
        );
        let contract = legacy(
            "ContractDefinition",
            13,
            "0:52:0",
            json!({"name": "A", "isLibrary": false, "linearizedBaseContracts": [13], "fullyImplemented": true}),
            vec![x, function],
        );
        (json!({"name": "SourceUnit", "children": [contract]}), text)
    }

    #[test]
    fn parts_get_their_names_and_identifiers_their_declarations() {
        let (ast, text) = unit();
        let mut sources = Map::new();
        sources.insert("a.sol".into(), json!({ "id": 0, "legacyAST": ast }));
        convert_units(&mut sources, &HashMap::from([("a.sol".to_owned(), text)]));
        let compact = &sources["a.sol"]["ast"];
        assert_eq!(compact["nodeType"], "SourceUnit");
        assert!(sources["a.sol"].get("legacyAST").is_none());
        let contract = &compact["nodes"][0];
        assert_eq!(contract["contractKind"], "contract");
        let state = &contract["nodes"][0];
        assert_eq!(state["stateVariable"], true);
        assert_eq!(state["typeDescriptions"]["typeString"], "uint256");
        let function = &contract["nodes"][1];
        assert_eq!(function["parameters"]["parameters"][0]["name"], "n");
        assert_eq!(function["parameters"]["parameters"][0]["scope"], 12);
        let assignment = &function["body"]["statements"][0]["expression"];
        assert_eq!(assignment["leftHandSide"]["referencedDeclaration"], 2);
        assert_eq!(assignment["rightHandSide"]["referencedDeclaration"], 4);
        assert_eq!(compact["id"], 14);
        assert_eq!(compact["src"], "0:52:0");
    }

    #[test]
    fn type_identifiers_keep_what_readers_ask() {
        assert_eq!(type_identifier("msg"), "t_magic_message");
        assert!(type_identifier("struct A.S storage pointer").ends_with("_storage_ptr"));
        assert!(
            type_identifier("function (address,uint256) external returns (bool)")
                .starts_with("t_function_external")
        );
        assert!(type_identifier("function (uint256)").starts_with("t_function_internal"));
    }
}
