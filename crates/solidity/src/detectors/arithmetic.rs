//! Integer overflow and underflow (SWC-101): before solc 0.8, and inside `unchecked` blocks
//! after, `+`, `-` and `*` wrap around silently. Reported where an operand comes from the
//! caller (a parameter of a function anyone can call, or `msg.value`) and the code does not
//! check the operation: no `a >= b` before `a - b`, no `a + b >= a` (SafeMath's check) around
//! `a + b`, no division back after `a * b`.

use crate::{
    Category, Finding, Rule, Severity,
    ast::{Function, Node, unconverted},
    program::Program,
    taint::{Flow, Taint, written_variable},
};

pub const RULE: Rule = Rule {
    id: "integer-overflow",
    title: "Integer overflow or underflow",
    swc: &["SWC-101"],
    category: Category::Arithmetic,
    severity: Severity::High,
    explanation: "Solidity before 0.8 (and any `unchecked` block) wraps integers around: \
        `0 - 1` is 2^256 - 1 and a large product becomes small. With an operand the caller \
        chooses, a balance that should go negative becomes huge, a price times a quantity \
        becomes almost nothing, a lock time moves to the past (BEC token, 2018).",
    fix: "Compile with solc 0.8 or later (checked arithmetic), or use SafeMath's `add`, `sub` \
        and `mul`, or check first: `require(balance >= amount)` before subtracting, \
        `require(a + b >= a)` for sums.",
};

const COMPARISONS: [&str; 4] = ["<", ">", "<=", ">="];

/// The operator and operands of an arithmetic operation: `a + b` or `a += b`.
fn operation<'a>(node: Node<'a>) -> Option<(char, Node<'a>, Node<'a>)> {
    let (operator, left, right) = match node.kind() {
        "BinaryOperation" => (
            node.str("operator")?,
            node.child("leftExpression")?,
            node.child("rightExpression")?,
        ),
        "Assignment" => (
            node.str("operator")?,
            node.child("leftHandSide")?,
            node.child("rightHandSide")?,
        ),
        _ => return None,
    };
    let op = match operator {
        "+" | "+=" => '+',
        "-" | "-=" => '-',
        "*" | "*=" => '*',
        _ => return None,
    };
    let integer = left.type_string().starts_with("uint") || left.type_string().starts_with("int");
    (integer && !is_constant(left) && !is_constant(right)).then_some((op, left, right))
}

fn is_constant(node: Node<'_>) -> bool {
    node.is("Literal") || node.flag("isConstant") || node.flag("isPure")
}

/// Locals that keep a copy of a stored value and are never assigned again, by name → the text
/// of what they copy (`uint previous = balance[msg.sender]`): a check on either is a check on
/// both, so `require(amount <= balance[msg.sender]); … previous - amount` is checked.
type Copies = std::collections::HashMap<String, String>;

fn copies(program: &Program<'_>, locals: &std::collections::HashMap<i64, Node<'_>>) -> Copies {
    locals
        .iter()
        .filter(|(_, value)| matches!(value.kind(), "IndexAccess" | "MemberAccess" | "Identifier"))
        .filter_map(|(id, value)| {
            let name = program.declaration(*id)?.name();
            (!name.is_empty()).then(|| (name.to_owned(), program.text(*value)))
        })
        .collect()
}

/// The text of `node`, a local copy named by what it copies. Parentheses are dropped, and an
/// assignment is named by the variable it assigns (`(z = x + y) >= x` compares `z`).
fn canonical(program: &Program<'_>, copies: &Copies, node: Node<'_>) -> String {
    let node = unparenthesized(node);
    let node = match node.kind() {
        "Assignment" if node.str("operator") == Some("=") => {
            node.child("leftHandSide").unwrap_or(node)
        }
        _ => node,
    };
    let text = program.text(node);
    copies.get(&text).cloned().unwrap_or(text)
}

/// `node` without the parentheses around it (a tuple of one component).
fn unparenthesized(node: Node<'_>) -> Node<'_> {
    let mut node = node;
    while node.is("TupleExpression") && !node.flag("isInlineArray") {
        let mut components = node.children("components");
        match (components.next(), components.next()) {
            (Some(only), None) => node = only,
            _ => break,
        }
    }
    node
}

/// Every comparison in `body`, as the texts of its two sides (copies named by what they copy).
fn comparisons(
    program: &Program<'_>,
    copies: &Copies,
    body: Node<'_>,
) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    body.walk(&mut |node, _| {
        if node.is("BinaryOperation")
            && let Some(operator) = node.str("operator")
            && (COMPARISONS.contains(&operator) || operator == "==")
            && let (Some(l), Some(r)) =
                (node.child("leftExpression"), node.child("rightExpression"))
        {
            found.push((
                operator.to_owned(),
                canonical(program, copies, l),
                canonical(program, copies, r),
            ));
        }
        true
    });
    found
}

/// What `body` bounds from above by a fixed limit — a literal, a constant, a plain state
/// variable — in `x <= k`, `x < k`, `k >= x`, `k > x`. (A bound the caller's own entry sets,
/// `x <= balances[msg.sender]`, is only as good as that entry.)
fn bounded_above(program: &Program<'_>, body: Node<'_>) -> std::collections::HashSet<String> {
    let fixed = |k: Node<'_>| {
        is_constant(k)
            || (k.is("Identifier")
                && k.referenced()
                    .is_some_and(|id| program.is_state_variable(id)))
    };
    let mut found = std::collections::HashSet::new();
    body.walk(&mut |node, _| {
        if node.is("BinaryOperation")
            && let (Some(l), Some(r)) =
                (node.child("leftExpression"), node.child("rightExpression"))
        {
            match node.str("operator") {
                Some("<" | "<=") if fixed(r) => {
                    found.insert(program.text(l));
                }
                Some(">" | ">=") if fixed(l) => {
                    found.insert(program.text(r));
                }
                _ => {}
            }
        }
        true
    });
    found
}

/// What `body` requires to stay under a number (`require(x < 1e30)`, `assert(k <= 1000 && …)`,
/// also `K > x`), by the text of the bounded side → the bits its value then has at most.
fn literal_limits(program: &Program<'_>, body: Node<'_>) -> std::collections::HashMap<String, u32> {
    let mut found = std::collections::HashMap::new();
    let mut conditions = Vec::new();
    body.walk(&mut |node, _| {
        if node.is("FunctionCall")
            && node
                .child("expression")
                .is_some_and(|c| program.is_global(c, "require") || program.is_global(c, "assert"))
        {
            conditions.extend(node.children("arguments").next());
        }
        true
    });
    while let Some(condition) = conditions.pop() {
        let condition = unparenthesized(condition);
        let (Some(l), Some(r)) = (
            condition.child("leftExpression"),
            condition.child("rightExpression"),
        ) else {
            continue;
        };
        let (bounded, limit) = match condition.str("operator") {
            Some("&&") => {
                conditions.extend([l, r]);
                continue;
            }
            Some("<" | "<=") => (l, r),
            Some(">" | ">=") => (r, l),
            _ => continue,
        };
        if let Some(bits) = number_bits(program, limit) {
            let entry = found.entry(program.text(bounded)).or_insert(bits);
            *entry = (*entry).min(bits);
        }
    }
    found
}

/// The bits of a number written in the code or a constant holding one: `1e30` has 100,
/// `1000 ether` 70. `None` when it is not a number.
fn number_bits(program: &Program<'_>, node: Node<'_>) -> Option<u32> {
    let node = unconverted(node);
    if !node.is("Literal") {
        let declaration = program.declaration(node.referenced()?)?;
        return declaration
            .flag("constant")
            .then(|| declaration.child("value"))
            .flatten()
            .and_then(|value| number_bits(program, value));
    }
    if node.str("kind") != Some("number") {
        return None;
    }
    let text = node.str("value")?.replace('_', "");
    let value = match text.strip_prefix("0x") {
        Some(hex) => {
            let digits = hex.trim_start_matches('0');
            return Some(if digits.is_empty() {
                0
            } else {
                (digits.len() as u32 - 1) * 4
                    + (32 - u32::from_str_radix(&digits[..1], 16).ok()?.leading_zeros())
            });
        }
        None => text.parse::<f64>().ok()?,
    };
    let unit: f64 = match node.str("subdenomination") {
        None => 1.0,
        Some("wei" | "seconds") => 1.0,
        Some("gwei") => 1e9,
        Some("szabo") => 1e12,
        Some("finney") => 1e15,
        Some("ether") => 1e18,
        Some("minutes") => 60.0,
        Some("hours") => 3600.0,
        Some("days") => 86_400.0,
        Some("weeks") => 604_800.0,
        Some("years") => 31_536_000.0,
        Some(_) => return None,
    };
    let value = value * unit;
    Some(if value < 1.0 {
        0
    } else {
        // One more than the integer part of log2, and a bit to spare for rounding.
        (value.log2().floor() as u32 + 2).min(256)
    })
}

/// The terms of a sum as written: `a+b*c+(d+e)` is `a`, `b*c`, `(d+e)`.
fn terms(sum: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in sum.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '+' if depth == 0 => {
                found.push(&sum[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    found.push(&sum[start..]);
    found
}

/// Amounts `body` has received by the time it adds them: `v` of `msg.value == v`, and of
/// `token.transferFrom(msg.sender, this, v)`. Like ether, tokens received are bounded by a
/// supply that fits.
fn received(program: &Program<'_>, body: Node<'_>) -> std::collections::HashSet<String> {
    let mut found = std::collections::HashSet::new();
    body.walk(&mut |node, _| {
        if node.is("BinaryOperation") && node.str("operator") == Some("==") {
            let sides: Vec<Node<'_>> = ["leftExpression", "rightExpression"]
                .iter()
                .filter_map(|s| node.child(s))
                .collect();
            if sides.iter().any(|s| s.is_global_member("msg", "value")) {
                found.extend(
                    sides
                        .iter()
                        .filter(|s| !s.is_global_member("msg", "value"))
                        .map(|s| program.text(*s)),
                );
            }
        }
        if node.is("FunctionCall")
            && node
                .child("expression")
                .is_some_and(|c| c.is("MemberAccess") && c.name_of_member() == "transferFrom")
        {
            let arguments: Vec<Node<'_>> = node.children("arguments").collect();
            if let [from, to, amount] = arguments[..]
                && from.is_global_member("msg", "sender")
                && matches!(program.text(to).as_str(), "this" | "address(this)")
            {
                found.insert(program.text(amount));
            }
        }
        true
    });
    found
}

/// Whether the code checks this operation.
fn guarded(
    program: &Program<'_>,
    copies: &Copies,
    compared: &[(String, String, String)],
    node: Node<'_>,
    (op, left, right): (char, Node<'_>, Node<'_>),
    result: Option<String>,
) -> bool {
    let (a, b) = (
        canonical(program, copies, left),
        canonical(program, copies, right),
    );
    let pair = |x: &str, y: &str| {
        compared.iter().any(|(o, l, r)| {
            COMPARISONS.contains(&o.as_str()) && ((l == x && r == y) || (l == y && r == x))
        })
    };
    match op {
        // `a >= b` (or `b <= a`, `a > b`) somewhere, or `a >= b + c`: the subtraction cannot
        // go below zero. `a - a % n` never can.
        '-' => {
            pair(&a, &b)
                // `(z = x - y) <= x`: a wrapped difference is larger than `x`.
                || result.as_deref().is_some_and(|c| pair(c, &a))
                || compared.iter().any(|(o, l, r)| {
                    COMPARISONS.contains(&o.as_str())
                        && ((*l == a && terms(r).contains(&b.as_str()))
                            || (*r == a && terms(l).contains(&b.as_str())))
                })
                // `b > a - k` checked (and reverted on): `b` is below `a` too.
                || compared.iter().any(|(o, l, r)| {
                    let written = program.text(unconverted(left));
                    let less = |x: &str| {
                        [a.as_str(), written.as_str()].iter().any(|a| {
                            x.strip_prefix(a).is_some_and(|rest| {
                                rest.starts_with('-') && terms(rest).len() == 1
                            })
                        })
                    };
                    COMPARISONS.contains(&o.as_str())
                        && ((*l == b && less(r)) || (*r == b && less(l)))
                })
                || (unconverted(right).is("BinaryOperation")
                    && unconverted(right).str("operator") == Some("%")
                    && unconverted(right)
                        .child("leftExpression")
                        .is_some_and(|x| canonical(program, copies, x) == a))
        }
        // SafeMath's `c >= a` with `c` the sum (or the sum written out).
        '+' => {
            let sum = if node.is("Assignment") {
                format!("{a}+{b}")
            } else {
                program.text(node)
            };
            [sum]
                .into_iter()
                .chain(result)
                .any(|s| pair(&s, &a) || pair(&s, &b))
        }
        // `c / a == b`: the product divided back.
        _ => {
            let product = program.text(node);
            compared.iter().any(|(o, l, r)| {
                o == "=="
                    && [l, r].iter().any(|side| {
                        side.starts_with(&format!("{product}/"))
                            || result.as_ref().is_some_and(|c| {
                                side.starts_with(&format!("{c}/"))
                                    || side.starts_with(&format!("({c}={product})/"))
                            })
                    })
            })
        }
    }
}

/// `i - b` inside `for (uint i = b; …; i++)` (or `for (i = b; …)`) whose body changes neither
/// `i` nor `b`: the index only grows from `b`.
fn loop_floor(program: &Program<'_>, path: &[Node<'_>], left: Node<'_>, right: Node<'_>) -> bool {
    let left = unconverted(left);
    let Some(index) = left.is("Identifier").then(|| left.referenced()).flatten() else {
        return false;
    };
    let floor = program.text(right);
    let (index_name, floor_name) = (program.text(left), floor.clone());
    path.iter().any(|ancestor| {
        if !ancestor.is("ForStatement") {
            return false;
        }
        // `for (uint i = b; …)`, or `for (i = b; …)` with `i` declared before.
        let starts_at_floor = ancestor
            .child("initializationExpression")
            .is_some_and(|init| {
                let assigned = init.child("expression").unwrap_or(init);
                (init.is("VariableDeclarationStatement")
                    && init
                        .children("declarations")
                        .next()
                        .is_some_and(|d| d.id() == Some(index))
                    && init
                        .child("initialValue")
                        .is_some_and(|v| program.text(v) == floor))
                    || (assigned.is("Assignment")
                        && assigned.str("operator") == Some("=")
                        && assigned
                            .child("leftHandSide")
                            .is_some_and(|t| t.referenced() == Some(index))
                        && assigned
                            .child("rightHandSide")
                            .is_some_and(|v| program.text(v) == floor))
            });
        let increments = ancestor.child("loopExpression").is_some_and(|step| {
            let step = step.child("expression").unwrap_or(step);
            (step.is("UnaryOperation") && step.str("operator") == Some("++"))
                || (step.is("Assignment") && step.str("operator") == Some("+="))
        });
        let changes = |name: &str| {
            ancestor.child("body").is_some_and(|b| {
                b.any(&mut |n| {
                    let target = match n.kind() {
                        "Assignment" => n.child("leftHandSide"),
                        "UnaryOperation" if matches!(n.str("operator"), Some("++" | "--")) => {
                            n.child("subExpression")
                        }
                        _ => None,
                    };
                    target.is_some_and(|t| program.text(t) == name)
                })
            })
        };
        starts_at_floor && increments && !changes(&index_name) && !changes(&floor_name)
    })
}

/// The value of a number literal, or of a constant declared as one.
fn constant_value(program: &Program<'_>, node: Node<'_>) -> Option<u128> {
    let node = unconverted(node);
    if node.is("Literal") {
        return node.str("value")?.parse().ok();
    }
    let declaration = program.declaration(node.referenced()?)?;
    if !declaration.flag("constant") {
        return None;
    }
    constant_value(program, declaration.child("value")?)
}

/// Bits a value of type `type_string` can have: 8 for `uint8` and `bytes1`, 256 when unknown.
fn type_bits(type_string: &str) -> u32 {
    let width = |digits: &str, unit: u32| digits.parse::<u32>().ok().map(|n| n * unit);
    type_string
        .strip_prefix("uint")
        .and_then(|n| if n.is_empty() { Some(256) } else { width(n, 1) })
        .or_else(|| type_string.strip_prefix("bytes").and_then(|n| width(n, 8)))
        .filter(|bits| *bits <= 256)
        .unwrap_or(256)
}

/// An upper bound on the bits of `node`'s value, from what it is made of: a narrow type
/// (`uint(b[0])` of a `bytes1` has 8), a number, a sum (one more bit than its widest operand), a
/// product (the bits of both), a quotient, remainder, mask or shift right (no more than the
/// operand), an internal function's call (its widest returned value). 256 when unknown. A byte
/// parser's `hi * 16 + lo` then stays far below 2^256 whatever the caller passes. `node` itself
/// (depth 0) is not capped by its type: whether its exact value fits that type is the question.
fn value_bits(
    program: &Program<'_>,
    node: Node<'_>,
    depth: usize,
    returns: &mut std::collections::HashMap<i64, u32>,
) -> u32 {
    let declared = if depth == 0 {
        u32::MAX
    } else {
        type_bits(node.type_string())
    };
    if depth > 8 {
        return declared;
    }
    let bits = |n: Option<Node<'_>>, returns: &mut std::collections::HashMap<i64, u32>| {
        n.map_or(256, |n| value_bits(program, n, depth + 1, returns))
    };
    let derived = match node.kind() {
        "Literal" => constant_value(program, node).map_or(256, |v| 128 - v.leading_zeros()),
        "TupleExpression" if node.children("components").count() == 1 => {
            bits(node.children("components").next(), returns)
        }
        "BinaryOperation" => {
            let left = bits(node.child("leftExpression"), returns);
            let right = bits(node.child("rightExpression"), returns);
            match node.str("operator") {
                Some("+") => left.max(right).saturating_add(1),
                // Times 0 or 1 is no larger than the other factor.
                Some("*") if left.min(right) <= 1 => left.max(right),
                Some("*") => left.saturating_add(right),
                Some("-" | "/" | ">>") => left,
                Some("%" | "&") => left.min(right),
                _ => 256,
            }
        }
        "Conditional" => {
            let when_true = bits(node.child("trueExpression"), returns);
            when_true.max(bits(node.child("falseExpression"), returns))
        }
        "FunctionCall" if node.str("kind") == Some("typeConversion") => {
            bits(node.children("arguments").next(), returns)
        }
        "FunctionCall" => {
            let callee = program.called_function(node);
            match (
                callee.and_then(|f| f.node().id()),
                callee.and_then(|f| f.body()),
            ) {
                (Some(id), Some(body)) => {
                    // Each function once per program: its widest return, 256 while it is being
                    // worked out (a recursive call bounds nothing).
                    if let Some(known) = returns.get(&id) {
                        *known
                    } else {
                        returns.insert(id, 256);
                        let mut expressions = Vec::new();
                        body.walk(&mut |inner, _| {
                            if inner.is("Return") {
                                expressions.push(inner.child("expression"));
                            }
                            true
                        });
                        let widest = if expressions.is_empty() {
                            // No `return`: what the named result is assigned.
                            callee.map_or(256, |f| named_result_bits(f, &mut |e| bits(e, returns)))
                        } else {
                            expressions
                                .into_iter()
                                .map(|e| bits(e, returns))
                                .max()
                                .unwrap_or(256)
                        };
                        returns.insert(id, widest);
                        widest
                    }
                }
                _ => 256,
            }
        }
        _ => 256,
    };
    declared.min(derived)
}

/// The bits of a function's one named result, from every assignment to it: Solidity's by the
/// value assigned, assembly's 1 for Yul's comparisons (`u := iszero(iszero(b))`, OpenZeppelin's
/// `SafeCast.toUint(bool)`) and 256 for anything else; 256 if it has none.
fn named_result_bits(function: Function<'_>, bits: &mut dyn FnMut(Option<Node<'_>>) -> u32) -> u32 {
    let results: Vec<Node<'_>> = function
        .node()
        .child("returnParameters")
        .map(|r| r.children("parameters").collect())
        .unwrap_or_default();
    let ([result], Some(body)) = (&results[..], function.body()) else {
        return 256;
    };
    let (id, name) = (result.id(), result.name());
    let mut widest: Option<u32> = None;
    body.walk(&mut |node, _| {
        let assigned = match node.kind() {
            "Assignment" if node.child("leftHandSide").and_then(|l| l.referenced()) == id => {
                Some(if node.str("operator") == Some("=") {
                    bits(node.child("rightHandSide"))
                } else {
                    256
                })
            }
            "YulAssignment"
                if node
                    .children("variableNames")
                    .any(|v| v.name() == name && !name.is_empty()) =>
            {
                let boolean = node.child("value").is_some_and(|v| {
                    v.is("YulFunctionCall")
                        && v.child("functionName").is_some_and(|f| {
                            matches!(f.name(), "iszero" | "lt" | "gt" | "slt" | "sgt" | "eq")
                        })
                });
                Some(if boolean { 1 } else { 256 })
            }
            _ => None,
        };
        if let Some(b) = assigned {
            widest = Some(widest.map_or(b, |w| w.max(b)));
        }
        true
    });
    widest.unwrap_or(256)
}

/// The locals `body` declares with a value and never assigns again: id → that value.
fn fixed_locals<'a>(body: Node<'a>) -> std::collections::HashMap<i64, Node<'a>> {
    let mut values = std::collections::HashMap::new();
    let mut assigned = std::collections::HashSet::new();
    body.walk(&mut |node, _| {
        if node.is("VariableDeclarationStatement")
            && let Some(id) = node.children("declarations").next().and_then(|d| d.id())
            && let Some(value) = node.child("initialValue")
        {
            values.insert(id, unconverted(value));
        }
        // Assigned, incremented, decremented or deleted.
        let target = match node.kind() {
            "Assignment" => node.child("leftHandSide"),
            "UnaryOperation" if matches!(node.str("operator"), Some("++" | "--" | "delete")) => {
                node.child("subExpression")
            }
            _ => None,
        };
        if let Some(id) = target.and_then(|t| t.referenced()) {
            assigned.insert(id);
        }
        true
    });
    values.retain(|id, _| !assigned.contains(id));
    values
}

/// `x - y` with `y` a local declared as a part of `x` and never assigned again: `x - z` (a
/// subtraction checked on its own), `x / d` or `x * n / d` with constants `n <= d`, `min(x, z)`.
fn part_of(
    program: &Program<'_>,
    locals: &std::collections::HashMap<i64, Node<'_>>,
    left: Node<'_>,
    right: Node<'_>,
) -> bool {
    let right = unconverted(right);
    right.is("Identifier")
        && right
            .referenced()
            .and_then(|id| locals.get(&id))
            .is_some_and(|value| is_part(program, *value, &program.text(left)))
}

/// Whether `value` is at most `whole` by construction: a call of a two-argument `min`
/// (`Math.min(a, b)`) one argument of which is `whole`, or the same written as a conditional
/// (`a > whole ? whole : a`, `a < whole ? a : whole`).
fn is_min_of(program: &Program<'_>, value: Node<'_>, whole: &str) -> bool {
    let value = unconverted(value);
    if value.is("Conditional") {
        let text = |n: Option<Node<'_>>| n.map(|n| program.text(unconverted(n)));
        let Some(condition) = value.child("condition").map(unparenthesized) else {
            return false;
        };
        let (yes, no) = (
            text(value.child("trueExpression")),
            text(value.child("falseExpression")),
        );
        let (left, right) = (
            text(condition.child("leftExpression")),
            text(condition.child("rightExpression")),
        );
        // The branch taken when the other side is larger is the smaller one.
        let smaller = match condition.str("operator") {
            Some(">" | ">=") => left == no && right == yes,
            Some("<" | "<=") => left == yes && right == no,
            _ => false,
        };
        return smaller && (yes.as_deref() == Some(whole) || no.as_deref() == Some(whole));
    }
    let named_min = value.is("FunctionCall")
        && value.child("expression").is_some_and(|c| {
            let name = match c.kind() {
                "Identifier" => c.name(),
                "MemberAccess" => c.name_of_member(),
                _ => "",
            };
            name == "min"
        });
    let arguments: Vec<Node<'_>> = value.children("arguments").collect();
    named_min
        && arguments.len() == 2
        && arguments
            .iter()
            .any(|a| program.text(unconverted(*a)) == whole)
}

/// `x - y` where the one assignment of `y` in `body` before it is `y = min(y, x)` (or its
/// conditional form) and `x` is not assigned between the two (`start = Math.min(start, end);
/// end - start`, `amount = requested > owed ? owed : requested; owed -= amount`).
fn clamped_below(
    program: &Program<'_>,
    body: Node<'_>,
    operation: Node<'_>,
    left: Node<'_>,
    right: Node<'_>,
) -> bool {
    let (left, right) = (unconverted(left), unconverted(right));
    let Some(y) = right.referenced() else {
        return false;
    };
    if !right.is("Identifier") {
        return false;
    }
    let whole = program.text(left);
    let at = operation.span().map(|s| s.start).unwrap_or(0);
    let mut clamp = None;
    let mut assignments_of_y = 0;
    let mut x_assigned_at = Vec::new();
    body.walk(&mut |node, _| {
        if node.is("Assignment")
            && let Some(target) = node.child("leftHandSide")
            && let Some(start) = node.span().map(|s| s.start)
        {
            if target.is("Identifier") && target.referenced() == Some(y) {
                assignments_of_y += 1;
                if node.str("operator") == Some("=")
                    && node
                        .child("rightHandSide")
                        .is_some_and(|v| is_min_of(program, v, &whole))
                {
                    clamp = Some(start);
                }
            }
            // The subtraction itself (`owed -= amount`) is not a write before it.
            if start != at && program.text(target) == whole {
                x_assigned_at.push(start);
            }
        }
        true
    });
    clamp.is_some_and(|clamp| {
        assignments_of_y == 1 && clamp < at && x_assigned_at.iter().all(|x| *x < clamp || *x > at)
    })
}

/// `x + y` after `x = x - y` (or `x -= y`) with neither assigned in between: the sum is what
/// `x` held before, which fitted (`tab = tab - owe; … tab + owe`). A subtraction that could
/// wrap is reported where it is.
fn undoes_subtraction(body: Node<'_>, sum: Node<'_>, left: Node<'_>, right: Node<'_>) -> bool {
    let (left, right) = (unconverted(left), unconverted(right));
    let (Some(a), Some(b)) = (left.referenced(), right.referenced()) else {
        return false;
    };
    if !(left.is("Identifier") && right.is("Identifier")) {
        return false;
    }
    let at = sum.span().map_or(0, |s| s.start);
    // The start of the last subtraction that took one operand from the other before `at`, and
    // where each operand was last assigned before `at`.
    let mut subtracted = None;
    let mut last_assigned = std::collections::HashMap::new();
    body.walk(&mut |node, _| {
        if node.is("Assignment")
            && let Some(target) = node.child("leftHandSide").and_then(|t| t.referenced())
            && let Some(start) = node.span().map(|s| s.start)
            && start < at
            && (target == a || target == b)
        {
            let other = if target == a { b } else { a };
            let takes_other = match node.str("operator") {
                Some("-=") => node
                    .child("rightHandSide")
                    .is_some_and(|v| unconverted(v).referenced() == Some(other)),
                Some("=") => node.child("rightHandSide").is_some_and(|v| {
                    operation(unparenthesized(v)).is_some_and(|(op, l, r)| {
                        op == '-'
                            && unconverted(l).referenced() == Some(target)
                            && unconverted(r).referenced() == Some(other)
                    })
                }),
                _ => false,
            };
            if takes_other {
                subtracted = Some(start);
            }
            last_assigned.insert(target, start);
        }
        true
    });
    subtracted.is_some_and(|subtracted| {
        [a, b]
            .iter()
            .all(|v| last_assigned.get(v).is_none_or(|at| *at <= subtracted))
    })
}

/// For `s + i` (either way round) inside `for (…; i < n; …)` along `path`: each (`s`, the loop,
/// `n`).
fn indexed_from<'a>(
    path: &[Node<'a>],
    left: Node<'a>,
    right: Node<'a>,
) -> Vec<(Node<'a>, Node<'a>, Node<'a>)> {
    let (left, right) = (unconverted(left), unconverted(right));
    let mut found = Vec::new();
    for (start, index) in [(left, right), (right, left)] {
        let Some(index_id) = index.is("Identifier").then(|| index.referenced()).flatten() else {
            continue;
        };
        for ancestor in path.iter().filter(|a| a.is("ForStatement")) {
            let bound = ancestor
                .child("condition")
                .filter(|c| {
                    c.str("operator") == Some("<")
                        && c.child("leftExpression")
                            .is_some_and(|l| unconverted(l).referenced() == Some(index_id))
                })
                .and_then(|c| c.child("rightExpression"));
            if let Some(bound) = bound {
                found.push((start, *ancestor, unconverted(bound)));
            }
        }
    }
    found
}

/// `s + i` inside `for (…; i < n; …)` where the function adds `s` and `n` with SafeMath
/// (`s.add(n)`, which reverts on a wrap): `s + i` is below that sum (Lido's `getSigningKeys`
/// reading `_offset + i` after `_offset.add(_limit) <= total`). Neither `s` nor `n` may change in
/// the loop.
fn below_checked_sum(
    program: &Program<'_>,
    body: Node<'_>,
    path: &[Node<'_>],
    left: Node<'_>,
    right: Node<'_>,
) -> bool {
    indexed_from(path, left, right)
        .into_iter()
        .any(|(start, looped, bound)| {
            let (start, bound) = (program.text(start), program.text(bound));
            let changed_in_loop = looped.child("body").is_some_and(|b| {
                b.any(&mut |n| {
                    n.is("Assignment")
                        && n.child("leftHandSide").is_some_and(|t| {
                            let t = program.text(t);
                            t == start || t == bound
                        })
                })
            });
            !changed_in_loop
                && body.any(&mut |n| {
                    n.is("FunctionCall")
                        && n.child("expression").is_some_and(|e| {
                            e.is("MemberAccess")
                                && e.name_of_member() == "add"
                                && e.child("expression")
                                    .zip(n.children("arguments").next())
                                    .is_some_and(|(base, argument)| {
                                        let (base, argument) = (
                                            program.text(unconverted(base)),
                                            program.text(unconverted(argument)),
                                        );
                                        (base == start && argument == bound)
                                            || (base == bound && argument == start)
                                    })
                        })
                })
        })
}

/// `s + i` inside `for (…; i < n; …)` with `n` a fixed local `e - s`: below `e`.
fn within_range(
    program: &Program<'_>,
    locals: &std::collections::HashMap<i64, Node<'_>>,
    path: &[Node<'_>],
    left: Node<'_>,
    right: Node<'_>,
) -> bool {
    indexed_from(path, left, right)
        .into_iter()
        .any(|(start, _, bound)| {
            bound
                .referenced()
                .and_then(|n| locals.get(&n))
                .is_some_and(|length| {
                    length.is("BinaryOperation")
                        && length.str("operator") == Some("-")
                        && length
                            .child("rightExpression")
                            .is_some_and(|s| program.text(unconverted(s)) == program.text(start))
                })
        })
}

/// Whether `body` uses `mulmod` (in Solidity or assembly): it computes full-width products,
/// whose low 256 bits a plain `*` gives on purpose.
fn uses_mulmod(program: &Program<'_>, body: Node<'_>) -> bool {
    body.any(&mut |node| {
        (node.is("FunctionCall")
            && node
                .child("expression")
                .is_some_and(|c| program.is_global(c, "mulmod")))
            || (node.is("YulFunctionCall")
                && node
                    .child("functionName")
                    .is_some_and(|n| n.name() == "mulmod"))
    })
}

fn is_part(program: &Program<'_>, value: Node<'_>, whole: &str) -> bool {
    if is_min_of(program, value, whole) {
        return true;
    }
    if !value.is("BinaryOperation") {
        return false;
    }
    let (Some(l), Some(r)) = (
        value.child("leftExpression").map(unconverted),
        value.child("rightExpression"),
    ) else {
        return false;
    };
    match value.str("operator") {
        Some("-") => program.text(l) == whole,
        Some("/") => {
            program.text(l) == whole
                || (l.is("BinaryOperation")
                    && l.str("operator") == Some("*")
                    && l.child("leftExpression")
                        .is_some_and(|x| program.text(unconverted(x)) == whole)
                    && matches!(
                        (
                            l.child("rightExpression")
                                .and_then(|n| constant_value(program, n)),
                            constant_value(program, r),
                        ),
                        (Some(n), Some(d)) if n <= d
                    ))
        }
        _ => false,
    }
}

/// The amounts `body` subtracts in place from a balance it checked first: `v` of
/// `require(b[from] >= v); b[from] -= v;`.
fn checked_debits(
    program: &Program<'_>,
    copies: &Copies,
    compared: &[(String, String, String)],
    body: Node<'_>,
) -> std::collections::HashSet<String> {
    let mut debited = std::collections::HashSet::new();
    body.walk(&mut |node, path| {
        // 0.8 checks a subtraction outside `unchecked` itself.
        let checked_by_solc =
            program.checked_arithmetic && !path.iter().any(|p| p.is("UncheckedBlock"));
        if node.is("Assignment")
            && node.str("operator") == Some("-=")
            && let Some(operation) = operation(node)
            && (checked_by_solc || guarded(program, copies, compared, node, operation, None))
        {
            debited.insert(program.text(operation.2));
        }
        // `b[from] = fromBalance - v` with `fromBalance` a copy of `b[from]`, checked.
        if node.is("Assignment")
            && node.str("operator") == Some("=")
            && let (Some(target), Some(value)) = (
                node.child("leftHandSide"),
                node.child("rightHandSide").map(unconverted),
            )
            && let Some(operation @ ('-', left, right)) = operation(value)
            && canonical(program, copies, left) == program.text(target)
            && guarded(program, copies, compared, value, operation, None)
        {
            debited.insert(program.text(right));
        }
        true
    });
    debited
}

/// With checked arithmetic (0.8), the amounts a checked `+=` adds outside `unchecked`, and to
/// which variable (`_totalSupply += v`): a part of another variable that grows by the same amount
/// inside `unchecked` (`_balances[to] += v`) stays below the total that did not overflow. (The
/// same variable growing twice is not bounded by its first growth.)
fn checked_growth(
    program: &Program<'_>,
    body: Node<'_>,
) -> std::collections::HashSet<(String, Option<i64>)> {
    let mut grown = std::collections::HashSet::new();
    if !program.checked_arithmetic {
        return grown;
    }
    body.walk(&mut |node, path| {
        if node.is("Assignment")
            && node.str("operator") == Some("+=")
            && !path.iter().any(|p| p.is("UncheckedBlock"))
            && let Some(amount) = node.child("rightHandSide")
        {
            let total = node.child("leftHandSide").and_then(written_variable);
            grown.insert((program.text(amount), total));
        }
        true
    });
    grown
}

/// How many identifiers in `node` (itself included) refer to declaration `id`.
fn references(node: Node<'_>, id: i64) -> usize {
    let mut found = 0;
    node.walk(&mut |n, _| {
        if n.is("Identifier") && n.referenced() == Some(id) {
            found += 1;
        }
        true
    });
    found
}

/// Where a value is kept, however an access reaches it: a state variable (through any index),
/// or a member of a struct type (through any variable or storage pointer of that type).
#[derive(Debug, PartialEq, Eq)]
enum Keeper {
    Variable(i64),
    Member(String, String),
}

fn keeper(program: &Program<'_>, node: Node<'_>) -> Option<Keeper> {
    match node.kind() {
        "Identifier" => node
            .referenced()
            .filter(|id| program.is_state_variable(*id))
            .map(Keeper::Variable),
        "IndexAccess" => keeper(program, node.child("baseExpression")?),
        "MemberAccess" => {
            let base = node.child("expression")?.type_identifier();
            if !base.starts_with("t_struct") {
                return None;
            }
            // One struct type whatever the data location of the access.
            let mut struct_type = base.trim_end_matches("_ptr");
            for location in ["_storage", "_memory", "_calldata"] {
                struct_type = struct_type.trim_end_matches(location);
            }
            Some(Keeper::Member(
                struct_type.to_owned(),
                node.name_of_member().to_owned(),
            ))
        }
        _ => None,
    }
}

/// Whether every access to `kept` anywhere in the program overwrites it (`=`), compares it with
/// the clock (`now > deadline`, `now + d > deadline`), emits it, or returns it from a view: a
/// deadline, used for nothing but telling whether the time has come.
fn only_a_deadline(program: &Program<'_>, kept: &Keeper) -> bool {
    let mut deadline = true;
    for (_, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, path| {
            if !deadline {
                return false;
            }
            let hit = match kept {
                Keeper::Variable(id) => node.is("Identifier") && node.referenced() == Some(*id),
                Keeper::Member(..) => {
                    node.is("MemberAccess") && keeper(program, node).as_ref() == Some(kept)
                }
            };
            if !hit {
                return true;
            }
            // The whole access: `deadline[who]` of `deadline`.
            let mut access = node;
            let mut depth = path.len();
            while let Some(parent) = depth.checked_sub(1).map(|i| path[i])
                && parent.is("IndexAccess")
                && parent.child("baseExpression").and_then(|b| b.id()) == access.id()
            {
                access = parent;
                depth -= 1;
            }
            let around = &path[..depth];
            deadline = match around.last() {
                Some(parent)
                    if parent.is("Assignment")
                        && parent.child("leftHandSide").and_then(|l| l.id()) == access.id() =>
                {
                    parent.str("operator") == Some("=")
                }
                Some(parent)
                    if parent.is("BinaryOperation")
                        && parent
                            .str("operator")
                            .is_some_and(|o| COMPARISONS.contains(&o)) =>
                {
                    [
                        parent.child("leftExpression"),
                        parent.child("rightExpression"),
                    ]
                    .into_iter()
                    .flatten()
                    .filter(|side| side.id() != access.id())
                    .any(|other| other.any(&mut |n| super::randomness::is_timestamp(program, n)))
                }
                _ => {
                    around.iter().any(|a| a.is("EmitStatement"))
                        || (function.is_view() && around.iter().any(|a| a.is("Return")))
                }
            };
            true
        });
    }
    deadline
}

/// `now + d` with `d` a parameter the caller picks freely — nothing in the function compares it
/// and no modifier is handed it — kept only as a deadline ([`only_a_deadline`]), either stored
/// (`unlock = now + d`) or compared with where one is (`if (now + d > unlock) unlock = now + d`).
/// A wrapped sum is a time already past, and a past deadline behaves as the present one that
/// `d = 0` gives without wrapping: the caller gains nothing. Still reported: a minimum the
/// function enforces on `d` (the wrap gets under it), a deadline used in arithmetic, and a lock
/// the caller extends from its stored value (`lock[msg.sender] += d` moves a deadline the caller
/// could not otherwise move back).
fn deadline_from_the_clock(
    program: &Program<'_>,
    function: &Function<'_>,
    body: Node<'_>,
    path: &[Node<'_>],
    node: Node<'_>,
) -> bool {
    if !node.is("BinaryOperation") || node.str("operator") != Some("+") {
        return false;
    }
    let (Some(left), Some(right)) = (node.child("leftExpression"), node.child("rightExpression"))
    else {
        return false;
    };
    let (left, right) = (unparenthesized(left), unparenthesized(right));
    let offset = if super::randomness::is_timestamp(program, left) {
        right
    } else if super::randomness::is_timestamp(program, right) {
        left
    } else {
        return false;
    };
    let Some(parameter) = offset
        .is("Identifier")
        .then(|| offset.referenced())
        .flatten()
        .filter(|id| function.parameters().any(|p| p.id() == Some(*id)))
    else {
        return false;
    };
    let mentions = |n: Node<'_>| references(n, parameter) > 0;
    // Not bounded: no comparison in the body involves `d` except through this very sum, and no
    // modifier checks it.
    let sum = program.text(node);
    let function_node = function.node();
    if function_node.children("modifiers").any(&mentions) {
        return false;
    }
    let bounded = body.any(&mut |n| {
        n.is("BinaryOperation")
            && n.str("operator")
                .is_some_and(|o| COMPARISONS.contains(&o) || o == "==" || o == "!=")
            && [n.child("leftExpression"), n.child("rightExpression")]
                .into_iter()
                .flatten()
                .any(|side| mentions(side) && program.text(side) != sum)
    });
    if bounded {
        return false;
    }
    let Some(parent) = path.last() else {
        return false;
    };
    let kept = if parent.is("Assignment") && parent.str("operator") == Some("=") {
        parent.child("leftHandSide")
    } else if parent.is("BinaryOperation")
        && parent
            .str("operator")
            .is_some_and(|o| COMPARISONS.contains(&o))
    {
        [
            parent.child("leftExpression"),
            parent.child("rightExpression"),
        ]
        .into_iter()
        .flatten()
        .find(|side| side.id() != node.id())
    } else {
        None
    };
    kept.and_then(|k| keeper(program, k))
        .is_some_and(|kept| only_a_deadline(program, &kept))
}

/// Whether `call` hands its arguments to another contract: a low-level `call`, or a function of
/// a contract-typed value other than `this`.
fn hands_on(call: Node<'_>) -> bool {
    if !call.is("FunctionCall") {
        return false;
    }
    if let Some((_, member)) = crate::ast::address_member_call(call) {
        return member == "call";
    }
    crate::ast::callee(call).is_some_and(|target| {
        target.is("MemberAccess")
            && target.child("expression").is_some_and(|base| {
                base.type_string().starts_with("contract ")
                    && !(base.is("Identifier") && base.name() == "this")
            })
    })
}

/// Whether `value` is one of `call`'s arguments as it stands.
fn argument_of(call: Node<'_>, value: Node<'_>) -> bool {
    call.children("arguments")
        .any(|argument| unparenthesized(argument).id() == value.id())
}

/// `v * k` where `v` and `k` only encode a number the caller picks and hands to another
/// contract: both are parameters of the function read nowhere else in it (nothing compares
/// them, nothing uses them apart from this product, no modifier is handed them), `k` can be 1 —
/// a parameter itself, or `c ** d` of a parameter `d` — and the product (or the local holding
/// it) is only an argument of calls to other contracts. Every value of the type is `v * 1` for
/// some `v`: a wrapped product hands on nothing the caller could not have passed directly (an
/// airdrop's `v * 10 ** decimals` given to a token). Reported still: a factor used again on its
/// own (BEC's `cnt * _value`, where each receiver is then credited `_value`), a factor compared,
/// a constant factor, a product this contract keeps, pays or returns.
fn free_product(
    function: &Function<'_>,
    body: Node<'_>,
    path: &[Node<'_>],
    node: Node<'_>,
    left: Node<'_>,
    right: Node<'_>,
) -> bool {
    let parameter = |node: Node<'_>| {
        let node = unparenthesized(node);
        node.is("Identifier")
            .then(|| node.referenced())
            .flatten()
            .filter(|id| function.parameters().any(|p| p.id() == Some(*id)))
    };
    // `k`, or `c ** d`: a factor the caller can make 1.
    let unit = |node: Node<'_>| {
        let node = unparenthesized(node);
        parameter(node).or_else(|| {
            (node.is("BinaryOperation") && node.str("operator") == Some("**"))
                .then(|| node.child("rightExpression").and_then(parameter))
                .flatten()
        })
    };
    let (free, one) = match (parameter(left), unit(right), parameter(right), unit(left)) {
        (Some(v), Some(k), _, _) | (_, _, Some(v), Some(k)) => (v, k),
        _ => return false,
    };
    if free == one {
        return false;
    }
    let only_here = [free, one].iter().all(|id| {
        references(body, *id) == 1
            && !function
                .node()
                .children("modifiers")
                .any(|modifier| references(modifier, *id) > 0)
    });
    if !only_here {
        return false;
    }
    match path.last() {
        Some(call) if hands_on(*call) && argument_of(*call, node) => true,
        Some(statement) if statement.is("VariableDeclarationStatement") => {
            let mut declarations = statement.children("declarations");
            let (Some(local), None) = (
                declarations.next().and_then(|d| d.id()),
                declarations.next(),
            ) else {
                return false;
            };
            let mut handed_on_only = true;
            body.walk(&mut |n, around| {
                if n.is("Identifier") && n.referenced() == Some(local) {
                    handed_on_only &= around
                        .last()
                        .is_some_and(|call| hands_on(*call) && argument_of(*call, n));
                }
                handed_on_only
            });
            handed_on_only
        }
        _ => false,
    }
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    // Values the caller chooses: parameters of functions anyone can call (an owner's settings
    // are not an attacker's), and `msg.value`.
    let entry_parameters: std::collections::HashSet<i64> = program
        .functions()
        .filter(|(_, f)| f.is_entry() && !super::access_control::owner_only(program, *f))
        .flat_map(|(_, f)| f.parameters().filter_map(|p| p.id()).collect::<Vec<_>>())
        .collect();
    let source = |node: Node<'_>| {
        node.is_global_member("msg", "value")
            || (node.is("Identifier")
                && node
                    .referenced()
                    .is_some_and(|id| entry_parameters.contains(&id)))
    };
    // The caller's values as this call computes with them: picking which balance is read does
    // not make the balance theirs to choose, and a value stored by one call and used by another
    // is left to the stored value's own checks.
    let taint = Taint::with_flow(program, &source, Flow::CallValue);
    // Per function, the bits of its widest return ([`value_bits`]).
    let mut returns = std::collections::HashMap::new();
    let mut findings = Vec::new();
    for (contract, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        let locals = fixed_locals(body);
        let copies = copies(program, &locals);
        let compared = comparisons(program, &copies, body);
        let debited = checked_debits(program, &copies, &compared, body);
        let grown = checked_growth(program, body);
        let received = received(program, body);
        let limited = bounded_above(program, body);
        let limits = literal_limits(program, body);
        let full_width = uses_mulmod(program, body);
        body.walk(&mut |node, path| {
            // 0.8's checked arithmetic: only `unchecked { … }` wraps.
            if program.checked_arithmetic && !path.iter().any(|p| p.is("UncheckedBlock")) {
                return true;
            }
            let Some(operation) = operation(node) else {
                return true;
            };
            let (op, left, right) = operation;
            // The caller's values as this call computes with them (a parameter, `msg.value`,
            // what an internal helper is passed).
            let mut labels = taint.labels(left);
            labels.extend(taint.labels(right));
            if labels.is_empty() {
                return true;
            }
            // Every operand the caller chooses is checked against a limit first.
            if op != '-'
                && [left, right].iter().all(|x| {
                    taint.labels(*x).is_empty() || limited.contains(&program.text(*x))
                })
            {
                return true;
            }
            // Made of values too narrow to reach the operation's width (`a * 16 + b` of bytes).
            if op != '-'
                && node.is("BinaryOperation")
                && node.type_string().starts_with("uint")
                && value_bits(program, node, 0, &mut returns) <= type_bits(node.type_string())
            {
                return true;
            }
            // Operands that what they are made of or a limit checked first keeps narrow cannot
            // reach the width either: `x += v` after `require(x < 1e30)` with `v` a `uint8`.
            if op != '-' && node.type_string().starts_with("uint") {
                let mut bits = |x: Node<'_>| {
                    limits
                        .get(&program.text(x))
                        .copied()
                        .unwrap_or(256)
                        .min(value_bits(program, x, 1, &mut returns))
                };
                let (l, r) = (bits(left), bits(right));
                let needed = if op == '+' { l.max(r) + 1 } else { l + r };
                if needed <= type_bits(node.type_string()) {
                    return true;
                }
            }
            // Sums and products of ether amounts cannot reach 2^256: all the ether there is fits
            // in 2^90 wei.
            let only_value = labels.iter().all(|id| {
                program
                    .declaration(*id)
                    .is_some_and(|n| n.is_global_member("msg", "value"))
            });
            if only_value && op != '-' {
                return true;
            }
            // `uint c = a + b;`: the variable SafeMath checks.
            let result = path.last().and_then(|parent| {
                parent
                    .is("VariableDeclarationStatement")
                    .then(|| parent.children("declarations").next().map(|d| d.name().to_owned()))
                    .flatten()
                    .or_else(|| {
                        parent
                            .is("Assignment")
                            .then(|| parent.child("leftHandSide").map(|l| program.text(l)))
                            .flatten()
                    })
            });
            if guarded(program, &copies, &compared, node, operation, result) {
                return true;
            }
            if op == '-'
                && (loop_floor(program, path, left, right)
                    || part_of(program, &locals, left, right)
                    || clamped_below(program, body, node, left, right))
            {
                return true;
            }
            if op == '+' && undoes_subtraction(body, node, left, right) {
                return true;
            }
            if op == '+'
                && (within_range(program, &locals, path, left, right)
                    || below_checked_sum(program, body, path, left, right))
            {
                return true;
            }
            if op == '+' && deadline_from_the_clock(program, &function, body, path, node) {
                return true;
            }
            if op == '*' && full_width {
                return true;
            }
            if op == '*'
                && node.is("BinaryOperation")
                && free_product(&function, body, path, node, left, right)
            {
                return true;
            }
            // Moved, not created: `to += v` (or `supply -= v`) beside a checked `from -= v`.
            // The amount left one account that held it, so the other side stays within the
            // total that already fitted.
            if node.is("Assignment") && debited.contains(&program.text(right)) {
                return true;
            }
            // A part growing by what a checked total grew by.
            if op == '+' && node.is("Assignment") {
                let amount = program.text(right);
                let part = written_variable(left);
                if grown
                    .iter()
                    .any(|(grown, total)| *grown == amount && total.is_some() && *total != part)
                {
                    return true;
                }
            }
            // A deposit of what was just received: bounded like the ether or tokens it is.
            if op == '+' && node.is("Assignment") && received.contains(&program.text(right)) {
                return true;
            }
            let what = match operation.0 {
                '-' => "underflow",
                _ => "overflow",
            };
            findings.extend(program.finding(
                &RULE,
                node,
                &contract,
                Some(&function),
                format!(
                    "`{}` can {what}: an operand comes from the caller and nothing checks the result",
                    program.text(node)
                ),
            ));
            true
        });
    }
    findings
}
