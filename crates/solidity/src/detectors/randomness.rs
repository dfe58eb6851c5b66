//! Block values as randomness (SWC-120) and as time (SWC-116). A block's number, timestamp,
//! difficulty, coinbase, gas limit and hash are known to — or chosen by — whoever produces the
//! block, and readable by any contract called in the same block: a winner picked from them can
//! be predicted or steered. Timestamps can also be moved by the block producer within bounds.

use crate::{
    Category, Finding, Rule, Severity,
    ast::{Node, is_zero_literal, payment, unconverted, use_site},
    program::Program,
    taint::{Labels, Taint},
};
use alloy_primitives::U256;
use std::collections::BTreeSet;

pub const WEAK_RANDOMNESS: Rule = Rule {
    id: "weak-randomness",
    title: "Randomness from block values",
    swc: &["SWC-120"],
    category: Category::BadRandomness,
    severity: Severity::High,
    explanation: "The value is derived from block data (number, timestamp, difficulty, coinbase, \
        gas limit, block hash) or the caller's address. All are public before the transaction \
        runs or chosen by the block producer: an attacker computes the outcome in their own \
        contract in the same block and only plays when they win; a producer can withhold a \
        block that makes them lose. `blockhash` of a block more than 256 blocks old is zero.",
    fix: "Take randomness from outside the chain's producers: a verifiable random function \
        (an oracle's VRF), or commit-reveal where participants commit to secrets first and \
        reveal them after the commitments are final.",
};

pub const TIMESTAMP: Rule = Rule {
    id: "timestamp",
    title: "Decision on the block timestamp",
    swc: &["SWC-116"],
    category: Category::TimeManipulation,
    severity: Severity::Low,
    explanation: "The block producer sets the timestamp, within a tolerance of the previous \
        block and the network's clocks. A condition or an amount that depends on it to the \
        second, directly or through a stored value, can be moved by the producer to their advantage, and strict \
        equality with a timestamp can be made never to hold.",
    fix: "Allow for the tolerance: compare with ranges (`>=`, `<=`) over periods much longer \
        than the block interval, never with `==`; do not derive outcomes or randomness from the \
        timestamp; use block numbers for ordering where wall-clock time is not needed.",
};

/// The clock: `block.timestamp` or `now`.
pub(super) fn is_timestamp(program: &Program<'_>, node: Node<'_>) -> bool {
    node.is_global_member("block", "timestamp") || program.is_global(node, "now")
}

/// A read of block data: a member of `block`, `now`, or a `blockhash` call.
fn is_block_value(program: &Program<'_>, node: Node<'_>) -> bool {
    if [
        "number",
        "difficulty",
        "prevrandao",
        "coinbase",
        "gaslimit",
        "timestamp",
    ]
    .iter()
    .any(|m| node.is_global_member("block", m))
        || program.is_global(node, "now")
    {
        return true;
    }
    node.is("FunctionCall")
        && node.child("expression").is_some_and(|callee| {
            program.is_global(callee, "blockhash") || callee.is_global_member("block", "blockhash")
        })
}

fn is_caller(node: Node<'_>) -> bool {
    node.is_global_member("msg", "sender")
}

const HASHES: [&str; 4] = ["keccak256", "sha3", "sha256", "ripemd160"];

/// The operands a randomness computation mixes: `%`'s, a hash's arguments, an equality's
/// (a guess compared with a block hash).
fn randomness_inputs<'a>(program: &Program<'a>, node: Node<'a>) -> Option<Vec<Node<'a>>> {
    match node.kind() {
        "BinaryOperation" if node.str("operator") == Some("%") => {
            Some(node.child("leftExpression").into_iter().collect())
        }
        "FunctionCall"
            if node
                .child("expression")
                .is_some_and(|c| HASHES.iter().any(|h| program.is_global(c, h))) =>
        {
            Some(node.children("arguments").collect())
        }
        _ => None,
    }
}

/// `%`s that are not draws: those that move a value by its own remainder — `x - x % n`, `x -=
/// x % n` (round down to a multiple) and `x + x % n`, `x += x % n` (a mistaken attempt at
/// rounding up), alignment of a height or a time to a boundary — and those [`truncates`] and
/// [`walks_bits`] find. A draw's remainder decides an outcome; it is not added back to the
/// value it was taken from.
fn roundings(program: &Program<'_>) -> BTreeSet<i64> {
    let mut found = BTreeSet::new();
    for (_, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, path| {
            if truncates(node, path) || walks_bits(program, node, path) {
                found.extend(node.id());
            }
            let sides = match (node.kind(), node.str("operator")) {
                ("BinaryOperation", Some("-" | "+")) => node
                    .child("leftExpression")
                    .zip(node.child("rightExpression")),
                ("Assignment", Some("-=" | "+=")) => {
                    node.child("leftHandSide").zip(node.child("rightHandSide"))
                }
                _ => None,
            };
            if let Some((left, right)) = sides.map(|(left, right)| (left, unconverted(right)))
                && right.is("BinaryOperation")
                && right.str("operator") == Some("%")
                && right
                    .child("leftExpression")
                    .is_some_and(|x| program.text(x) == program.text(left))
            {
                found.extend(right.id());
            }
            true
        });
    }
    found
}

/// Whether `node` is `n % 2` inside a loop that halves `n` (`n = n / 2`, `n /= 2`, `n =
/// n.div(2)`, `n >>= 1`): the walk over `n`'s bits of exponentiation by squaring (Liquity's
/// `_decPow` of the minutes passed), whose result is the same power whichever bits `n` has.
fn walks_bits(program: &Program<'_>, node: Node<'_>, path: &[Node<'_>]) -> bool {
    let is_literal = |n: Option<Node<'_>>, value: &str| {
        n.is_some_and(|n| n.is("Literal") && n.str("value") == Some(value))
    };
    if !(node.is("BinaryOperation")
        && node.str("operator") == Some("%")
        && is_literal(node.child("rightExpression"), "2"))
    {
        return false;
    }
    let Some(walked) = node.child("leftExpression").map(|n| program.text(n)) else {
        return false;
    };
    let halves = |value: Node<'_>| {
        value.any(&mut |n| match n.kind() {
            "BinaryOperation" => {
                (n.str("operator") == Some("/") && is_literal(n.child("rightExpression"), "2"))
                    || (n.str("operator") == Some(">>")
                        && is_literal(n.child("rightExpression"), "1"))
            }
            "FunctionCall" => {
                n.child("expression")
                    .is_some_and(|c| c.is("MemberAccess") && c.name_of_member() == "div")
                    && is_literal(n.children("arguments").last(), "2")
            }
            _ => false,
        })
    };
    path.iter()
        .rev()
        .find(|p| {
            matches!(
                p.kind(),
                "WhileStatement" | "DoWhileStatement" | "ForStatement"
            )
        })
        .is_some_and(|walk| {
            walk.any(&mut |n| {
                n.is("Assignment")
                    && n.child("leftHandSide")
                        .is_some_and(|t| program.text(t) == walked)
                    && match n.str("operator") {
                        Some("/=") => is_literal(n.child("rightHandSide"), "2"),
                        Some(">>=") => is_literal(n.child("rightHandSide"), "1"),
                        Some("=") => n.child("rightHandSide").is_some_and(halves),
                        _ => false,
                    }
            })
        })
}

/// Whether `node` is `x % 2**k` converted to `uint<k>` (`uint32(block.timestamp % 2**32)`): the
/// low bits of a value kept in a narrower type, not a draw among a few outcomes.
fn truncates(node: Node<'_>, path: &[Node<'_>]) -> bool {
    if !(node.is("BinaryOperation") && node.str("operator") == Some("%")) {
        return false;
    }
    let modulus = node.child("rightExpression").and_then(|r| {
        r.type_string()
            .strip_prefix("int_const ")?
            .parse::<U256>()
            .ok()
    });
    let Some(bits) = modulus
        .filter(|m| m.is_power_of_two() && m.trailing_zeros() >= 8)
        .map(|m| m.trailing_zeros())
    else {
        return false;
    };
    let parent = path
        .iter()
        .rev()
        .find(|p| !p.is("TupleExpression"))
        .filter(|p| p.is("FunctionCall") && p.str("kind") == Some("typeConversion"));
    parent.is_some_and(|p| p.type_string() == format!("uint{bits}"))
}

pub fn detect(program: &Program<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let source = |node: Node<'_>| is_block_value(program, node) || is_caller(node);
    let taint = Taint::new(program, &source);
    // The same, without the heights that only choose which block's hash is read.
    let without_heights = Taint::with_opaque_source_calls(program, &source);
    let roundings = roundings(program);
    let called = called_functions(program);
    // Block reads inside computations that decide nothing flow only through them.
    let mut deciding_nothing: BTreeSet<i64> = BTreeSet::new();
    for (_, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, path| {
            if randomness_inputs(program, node).is_some()
                && (decides_nothing(program, &called, function, node, path)
                    || (node.is("BinaryOperation")
                        && locates_block_hash(program, &without_heights, body, node, path, 0)))
            {
                node.walk(&mut |inner, _| {
                    deciding_nothing.extend(inner.id());
                    true
                });
                return false;
            }
            true
        });
    }
    let mut reported: BTreeSet<i64> = BTreeSet::new();
    // Block reads reaching a condition, a comparison or an amount paid.
    let mut timestamp_uses = Labels::new();
    for (contract, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, path| {
            // Randomness: the block data (and callers' addresses) mixed into one value.
            if let Some(inputs) = randomness_inputs(program, node)
                && !node
                    .id()
                    .is_some_and(|id| roundings.contains(&id) || deciding_nothing.contains(&id))
            {
                // Block data through any variable; a caller's address only written right in
                // the computation (stored addresses are everywhere and mostly not seeds).
                let mut labels: Labels = inputs.iter().flat_map(|i| taint.labels(*i)).collect();
                let beyond_heights: Labels = inputs
                    .iter()
                    .flat_map(|i| without_heights.labels(*i))
                    .collect();
                let here = enclosing(program, node).and_then(|(_, f)| f.and_then(|f| f.node().id()));
                labels.retain(|id| {
                    !deciding_nothing.contains(id)
                        && program.declaration(*id).is_some_and(|n| {
                        (is_block_value(program, n)
                            || inputs.iter().any(|i| i.any(&mut |m| m.id() == Some(*id))))
                            // A height that only chooses which block's hash is read counts when
                            // this call computed it (`blockhash(block.number)` is zero, a
                            // height derived here is known to all); one recorded by an earlier
                            // call for a later block's hash is a commitment, not the draw.
                            && (beyond_heights.contains(id)
                                || enclosing(program, n)
                                    .and_then(|(_, f)| f.and_then(|f| f.node().id()))
                                    == here)
                    })
                });
                let from_blocks = labels.iter().any(|id| {
                    program
                        .declaration(*id)
                        .is_some_and(|n| is_block_value(program, n))
                });
                // `uint(msg.sender) % n`: a draw the caller decides by choosing their address
                // (addresses are cheap to grind).
                let from_caller = node.is("BinaryOperation")
                    && inputs.iter().any(|i| is_caller(unconverted(*i)));
                if from_blocks || from_caller {
                    // One finding per draw, at the first value read into it (in source order),
                    // with the draw and the other values as related places: one weakness, one
                    // fix, however many block values are mixed in.
                    let mut reads: Vec<Node<'_>> = labels
                        .into_iter()
                        .filter(|id| reported.insert(*id))
                        .filter_map(|id| program.declaration(id))
                        .collect();
                    reads.sort_by_key(|read| read.span().map(|s| (s.file, s.start)));
                    if let Some((first, others)) = reads.split_first() {
                        let what = describe(program, *first);
                        let draw = program.related(
                            node,
                            format!("{what} becomes part of a random-looking value here"),
                        );
                        let place = draw
                            .as_ref()
                            .map(|d| format!(" at line {}", d.line))
                            .unwrap_or_default();
                        let mut all: Vec<String> = std::iter::once(what.clone())
                            .chain(others.iter().map(|read| describe(program, *read)))
                            .collect();
                        let mixed = match all.pop() {
                            Some(last) if !all.is_empty() => {
                                format!("{} and {last} go", all.join(", "))
                            }
                            _ => format!("{what} goes"),
                        };
                        findings.extend(
                            program
                                .finding(
                                    &WEAK_RANDOMNESS,
                                    *first,
                                    &contract,
                                    Some(&function),
                                    format!(
                                        "{mixed} into a random-looking value (`{}`{place}): anyone can compute it in the same block",
                                        operator(node)
                                    ),
                                )
                                .map(|mut finding| {
                                    finding.related.extend(draw);
                                    // The other values read on lines of their own (the message
                                    // names them all).
                                    for read in others {
                                        let Some(place) = program.related(
                                            *read,
                                            format!(
                                                "{} also becomes part of it",
                                                describe(program, *read)
                                            ),
                                        ) else {
                                            continue;
                                        };
                                        if place.line != finding.line
                                            && finding.related.iter().all(|r| r.line != place.line)
                                        {
                                            finding.related.push(place);
                                        }
                                    }
                                    finding
                                }),
                        );
                    }
                }
            }
            // Time: a timestamp deciding a condition or an amount paid. Stored or returned, it
            // is followed to where it is read: a timestamp kept as a record decides nothing.
            let used = match node.kind() {
                "IfStatement" | "WhileStatement" | "ForStatement" | "DoWhileStatement"
                | "Conditional" => node.child("condition").map(|c| deciding(program, &taint, body, c)),
                "BinaryOperation"
                    if matches!(
                        node.str("operator"),
                        Some("<" | ">" | "<=" | ">=" | "==" | "!=")
                    ) =>
                {
                    Some(deciding(program, &taint, body, node))
                }
                "FunctionCall"
                    if node.child("expression").is_some_and(|c| {
                        program.is_global(c, "require") || program.is_global(c, "assert")
                    }) =>
                {
                    node.children("arguments").next().map(|a| deciding(program, &taint, body, a))
                }
                "FunctionCall" => payment(node).map(|(_, amount)| taint.labels(amount)),
                _ => None,
            };
            if let Some(labels) = used {
                timestamp_uses.extend(labels);
            }
            let _ = path;
            true
        });
    }
    for id in timestamp_uses {
        let Some(read) = program.declaration(id) else {
            continue;
        };
        // A block hash deciding anything is a guess at randomness (or zero, 256 blocks on).
        if read.is("FunctionCall") && is_block_value(program, read) {
            if reported.insert(id)
                && let Some((contract, function)) = enclosing(program, read)
            {
                findings.extend(
                    program.finding(
                        &WEAK_RANDOMNESS,
                        read,
                        &contract,
                        function.as_ref(),
                        "`blockhash(…)` decides a condition or an amount paid: it is known \
                     to every contract in the next block, and zero for blocks 256 or more back"
                            .into(),
                    ),
                );
            }
            continue;
        }
        if !is_timestamp(program, read) {
            continue;
        }
        let Some((contract, function)) = enclosing(program, read) else {
            continue;
        };
        findings.extend(program.finding(
            &TIMESTAMP,
            read,
            &contract,
            function.as_ref(),
            format!(
                "{} decides a condition or an amount paid: the block producer can move it",
                describe(program, read)
            ),
        ));
    }
    findings
}

/// The block values a condition in `body` decides on. A kept value compared with zero asks
/// whether a time was ever recorded (`records[id].at == 0`: no record yet), which no producer's
/// choice of timestamp changes; nor does a check that arithmetic did not wrap ([`wrap_guard`]:
/// SafeMath's `c >= a` decides nothing about `now.add(1800)`); in `a && b`, `a || b` and `!a`
/// each part is read on its own.
fn deciding<'a>(
    program: &Program<'a>,
    taint: &Taint<'_, 'a>,
    body: Node<'a>,
    condition: Node<'a>,
) -> crate::taint::Labels {
    let condition = unconverted(condition);
    if wrap_guard(program, body, condition) {
        return crate::taint::Labels::new();
    }
    match (condition.kind(), condition.str("operator")) {
        ("BinaryOperation", Some("&&" | "||")) => ["leftExpression", "rightExpression"]
            .iter()
            .filter_map(|side| condition.child(side))
            .flat_map(|side| deciding(program, taint, body, side))
            .collect(),
        ("UnaryOperation", Some("!")) => condition
            .child("subExpression")
            .map(|inner| deciding(program, taint, body, inner))
            .unwrap_or_default(),
        ("BinaryOperation", _) if asks_for_a_record(program, condition) => {
            crate::taint::Labels::new()
        }
        ("BinaryOperation", Some("==" | "!=")) => {
            match identifies_block(program, body, condition) {
                Some(expected) => taint.labels(expected),
                None => taint.labels(condition),
            }
        }
        _ => taint.labels(condition),
    }
}

/// The expected hash, when `comparison` checks a block's identity — `blockhash(n) == h` (or
/// `!=`) with `h` a value the function also compares with zero (`if (h == bytes32(0) ||
/// blockhash(n) != h) revert();`: signers vouched for that block). The hash of a block that
/// exists is fixed; a producer chooses nothing, and the zero check keeps out the zero
/// `blockhash` answers for blocks 256 or more back. Without it, the zero answer is the bug.
fn identifies_block<'a>(
    program: &Program<'_>,
    body: Node<'_>,
    comparison: Node<'a>,
) -> Option<Node<'a>> {
    let (left, right) = (
        unconverted(comparison.child("leftExpression")?),
        unconverted(comparison.child("rightExpression")?),
    );
    let expected = if is_block_value(program, left) && left.is("FunctionCall") {
        right
    } else if is_block_value(program, right) && right.is("FunctionCall") {
        left
    } else {
        return None;
    };
    let id = expected
        .is("Identifier")
        .then(|| expected.referenced())
        .flatten()?;
    let compared_with_zero = body.any(&mut |n| {
        n.is("BinaryOperation")
            && matches!(n.str("operator"), Some("==" | "!="))
            && n.child("leftExpression")
                .zip(n.child("rightExpression"))
                .is_some_and(|(l, r)| {
                    let (l, r) = (unconverted(l), unconverted(r));
                    (l.is("Identifier") && l.referenced() == Some(id) && is_zero_literal(r))
                        || (r.is("Identifier") && r.referenced() == Some(id) && is_zero_literal(l))
                })
    });
    compared_with_zero.then_some(expected)
}

/// Whether `comparison` only asks whether arithmetic in `body` wrapped — the guards of SafeMath,
/// ds-math and their kin: `c >= a` (or `c > a`, `a <= c`) with `c` the sum `a + b` (a local
/// given it, or the assignment written in place, `(z = x + y) >= x`); `b <= a` (or `a >= b`,
/// `a > b`) where `body` computes `a - b`; `c / a == b` with `c` the product `a * b`; and `a ==
/// 0` where `body` multiplies `a` (the shortcut before the product) — all of them on the
/// function's own parameters and locals, as in a helper given the values (`require(end >= now)`
/// reads the clock itself and is a time check, whatever follows it). Such a check reverts only
/// on numbers near 2^256 or on a difference below zero, which no choice of timestamp makes.
fn wrap_guard(program: &Program<'_>, body: Node<'_>, comparison: Node<'_>) -> bool {
    let (Some(left), Some(right)) = (
        comparison.child("leftExpression").map(unconverted),
        comparison.child("rightExpression").map(unconverted),
    ) else {
        return false;
    };
    // A parameter or local named directly.
    let id = |n: Node<'_>| {
        let n = unconverted(n);
        n.is("Identifier")
            .then(|| n.referenced())
            .flatten()
            .filter(|id| {
                !program.is_state_variable(*id)
                    && program
                        .declaration(*id)
                        .is_some_and(|d| d.is("VariableDeclaration"))
            })
    };
    // The operation a value is the result of: an operation of two named values, written in
    // place (`z = x + y`) or given to the local the value names.
    let result_of = |value: Node<'_>| -> Option<(String, i64, i64)> {
        let operation = |op: Node<'_>| -> Option<(String, i64, i64)> {
            let op = unconverted(op);
            if !op.is("BinaryOperation") {
                return None;
            }
            Some((
                op.str("operator")?.to_owned(),
                id(op.child("leftExpression")?)?,
                id(op.child("rightExpression")?)?,
            ))
        };
        if value.is("Assignment") && value.str("operator") == Some("=") {
            return operation(value.child("rightHandSide")?);
        }
        let local = id(value)?;
        let mut found = None;
        body.walk(&mut |n, _| {
            if found.is_some() {
                return false;
            }
            if n.is("VariableDeclarationStatement")
                && n.children("declarations").any(|d| d.id() == Some(local))
            {
                found = n.child("initialValue").and_then(operation);
            } else if n.is("Assignment")
                && n.str("operator") == Some("=")
                && n.child("leftHandSide").and_then(id) == Some(local)
            {
                found = n.child("rightHandSide").and_then(operation);
            }
            true
        });
        found
    };
    let computes = |operator: &str, a: i64, b: Option<i64>| {
        body.any(&mut |n| {
            n.is("BinaryOperation")
                && n.str("operator") == Some(operator)
                && n.child("leftExpression").and_then(id) == Some(a)
                && b.is_none_or(|b| n.child("rightExpression").and_then(id) == Some(b))
        })
    };
    let (big, small) = match comparison.str("operator") {
        Some(">=" | ">") => (left, right),
        Some("<=" | "<") => (right, left),
        Some("==") => {
            // `c / a == b`, either way round.
            let divided_back = |quotient: Node<'_>, other: Node<'_>| {
                quotient.is("BinaryOperation")
                    && quotient.str("operator") == Some("/")
                    && quotient
                        .child("leftExpression")
                        .map(unconverted)
                        .and_then(&result_of)
                        .zip(quotient.child("rightExpression").and_then(id))
                        .zip(id(other))
                        .is_some_and(|(((op, a, b), divisor), other)| {
                            op == "*"
                                && ((divisor == a && other == b) || (divisor == b && other == a))
                        })
            };
            // `a == 0` before `a * b`.
            let zero_shortcut = |value: Node<'_>, zero: Node<'_>| {
                is_zero_literal(zero) && id(value).is_some_and(|a| computes("*", a, None))
            };
            return divided_back(left, right)
                || divided_back(right, left)
                || zero_shortcut(left, right)
                || zero_shortcut(right, left);
        }
        _ => return false,
    };
    let sum_checked = result_of(big)
        .zip(id(small))
        .is_some_and(|((op, a, b), small)| op == "+" && (small == a || small == b));
    let difference_checked = id(big)
        .zip(id(small))
        .is_some_and(|(a, b)| computes("-", a, Some(b)));
    sum_checked || difference_checked
}

/// A value kept in contract state (a variable, a member, an entry), not computed: `now % 15
/// == 0` is a draw, and so is a local holding one; `records[id].at == 0` asks about a record.
fn is_record(program: &Program<'_>, node: Node<'_>) -> bool {
    let node = unconverted(node);
    matches!(node.kind(), "Identifier" | "IndexAccess" | "MemberAccess")
        && crate::taint::written_variable(node).is_some_and(|id| program.is_state_variable(id))
}

/// `x == 0`, `x != 0`, `x > 0` (or `0 < x`) with `x` a record ([`is_record`]).
fn asks_for_a_record(program: &Program<'_>, comparison: Node<'_>) -> bool {
    let (Some(l), Some(r)) = (
        comparison.child("leftExpression"),
        comparison.child("rightExpression"),
    ) else {
        return false;
    };
    let zero = |n: Node<'_>| is_zero_literal(unconverted(n));
    let (record_left, record_right) = (
        zero(r) && is_record(program, l),
        zero(l) && is_record(program, r),
    );
    match comparison.str("operator") {
        Some("==" | "!=") => record_left || record_right,
        Some(">") => record_left,
        Some("<") => record_right,
        _ => false,
    }
}

/// The functions some code of the program calls.
fn called_functions(program: &Program<'_>) -> BTreeSet<i64> {
    let mut called = BTreeSet::new();
    for (_, function) in program.functions() {
        let Some(body) = function.body() else {
            continue;
        };
        body.walk(&mut |node, _| {
            if node.is("FunctionCall")
                && let Some(callee) = program.called_function(node)
            {
                called.extend(callee.node().id());
            }
            true
        });
    }
    called
}

/// Whether the random-looking value `node` (below `path` in `function`) decides nothing: it is
/// computed in a public view no code of the program calls (it informs a reader and pays no
/// one; an internal view is there to be called, by derived contracts if not here), or a hash
/// used only as an identifier (a mapping key, an event's argument, a public function's return)
/// or as an argument for a parameter of a public function (a value the caller could pass
/// directly gains them nothing when derived from the block instead). A `%` picking a mapping's
/// entry selects, as it does an array's.
fn decides_nothing(
    program: &Program<'_>,
    called: &BTreeSet<i64>,
    function: crate::ast::Function<'_>,
    node: Node<'_>,
    path: &[Node<'_>],
) -> bool {
    if function.is_view()
        && function.is_entry()
        && !function.node().id().is_some_and(|id| called.contains(&id))
    {
        return true;
    }
    let Some(body) = function.body() else {
        return false;
    };
    only_identifies(program, function, body, node, path, 0)
}

/// Whether every use of the value `node` (below `path`) is a mapping key, an event's argument,
/// an argument for a public function's parameter, or — through a local it is kept in, two
/// levels deep — the same.
fn only_identifies(
    program: &Program<'_>,
    function: crate::ast::Function<'_>,
    body: Node<'_>,
    node: Node<'_>,
    path: &[Node<'_>],
    depth: usize,
) -> bool {
    let Some((parent, value, _)) = use_site(node, path, |_, _| false) else {
        return false;
    };
    let is_value =
        |n: Option<Node<'_>>| n.is_some_and(|n| n.id().is_some() && n.id() == value.id());
    match parent.kind() {
        "IndexAccess" => {
            !unconverted(node).is("BinaryOperation")
                && is_value(parent.child("indexExpression"))
                && parent
                    .child("baseExpression")
                    .is_some_and(|b| b.type_string().starts_with("mapping"))
        }
        "FunctionCall" => {
            let event = parent
                .child("expression")
                .and_then(|c| c.referenced())
                .and_then(|id| program.declaration(id))
                .is_some_and(|d| d.is("EventDefinition"));
            parent.children("arguments").any(|a| is_value(Some(a)))
                && (event
                    || program
                        .called_function(parent)
                        .is_some_and(|f| f.is_entry()))
        }
        "VariableDeclarationStatement" | "Assignment" => {
            let Some(kept) = kept_in_local(program, parent, value) else {
                return false;
            };
            if depth >= 2 {
                return false;
            }
            // A public function's named return value goes to its caller, off chain or to
            // another contract: like an event's argument.
            let returned = function
                .node()
                .child("returnParameters")
                .into_iter()
                .flat_map(|p| p.children("parameters"))
                .any(|p| p.id() == Some(kept));
            if returned && !function.is_entry() {
                return false;
            }
            let mut every_use = true;
            body.walk(&mut |n, p| {
                if every_use
                    && n.is("Identifier")
                    && n.referenced() == Some(kept)
                    && !p.last().is_some_and(|a| {
                        a.is("Assignment") && a.child("leftHandSide").and_then(|l| l.id()) == n.id()
                    })
                {
                    every_use = only_identifies(program, function, body, n, p, depth + 1);
                }
                every_use
            });
            every_use
        }
        _ => false,
    }
}

/// Whether every use of the remainder `node` (below `path`) only says where in a store of block
/// hashes to look: the slot of an array or mapping holding them (`hashes[n % size]`), or the
/// bits of a word read from one (`word >> (24 * (n % 10))`) — directly, through arithmetic with
/// constants, or through a local it is kept in (two levels deep). A contract keeping block
/// hashes for later rounds looks them up by height; the hash found is the draw, reported where
/// `blockhash` is read, and the height is a position as it is in `blockhash(height)` itself.
fn locates_block_hash<'a>(
    program: &Program<'a>,
    taint: &Taint<'_, 'a>,
    body: Node<'a>,
    node: Node<'a>,
    path: &[Node<'a>],
    depth: usize,
) -> bool {
    let holds_hash = |expr: Node<'a>| {
        taint.labels(expr).iter().any(|id| {
            program
                .declaration(*id)
                .is_some_and(|read| read.is("FunctionCall") && is_block_value(program, read))
        })
    };
    // Scaled or offset by a constant (`24 * slot`, `slot + 1`), the value is passed on.
    let scaled = |parent: Node<'a>, value: Node<'a>| {
        parent.is("BinaryOperation")
            && matches!(parent.str("operator"), Some("*" | "+"))
            && [
                parent.child("leftExpression"),
                parent.child("rightExpression"),
            ]
            .into_iter()
            .flatten()
            .any(|side| side.id() != value.id() && side.is("Literal"))
    };
    let Some((parent, value, _)) = use_site(node, path, scaled) else {
        return false;
    };
    let is_value =
        |n: Option<Node<'_>>| n.is_some_and(|n| n.id().is_some() && n.id() == value.id());
    match parent.kind() {
        "IndexAccess" => {
            is_value(parent.child("indexExpression"))
                && parent.child("baseExpression").is_some_and(holds_hash)
        }
        "BinaryOperation" if matches!(parent.str("operator"), Some(">>" | "<<")) => {
            is_value(parent.child("rightExpression"))
                && parent.child("leftExpression").is_some_and(holds_hash)
        }
        "VariableDeclarationStatement" | "Assignment" => {
            let Some(kept) = kept_in_local(program, parent, value) else {
                return false;
            };
            if depth >= 2 {
                return false;
            }
            let mut every_use = true;
            let mut used = false;
            body.walk(&mut |n, p| {
                if every_use
                    && n.is("Identifier")
                    && n.referenced() == Some(kept)
                    && !p.last().is_some_and(|a| {
                        a.is("Assignment") && a.child("leftHandSide").and_then(|l| l.id()) == n.id()
                    })
                {
                    used = true;
                    every_use = locates_block_hash(program, taint, body, n, p, depth + 1);
                }
                every_use
            });
            used && every_use
        }
        _ => false,
    }
}

/// The local that `statement` — `x = value;` or `T x = value;` — keeps `value` in.
fn kept_in_local(program: &Program<'_>, statement: Node<'_>, value: Node<'_>) -> Option<i64> {
    let is_value =
        |n: Option<Node<'_>>| n.is_some_and(|n| n.id().is_some() && n.id() == value.id());
    let kept = if statement.is("Assignment") {
        (statement.str("operator") == Some("=") && is_value(statement.child("rightHandSide")))
            .then(|| statement.child("leftHandSide"))
            .flatten()
            .filter(|l| l.is("Identifier"))
            .and_then(|l| l.referenced())
    } else {
        let declared: Vec<Node<'_>> = statement.children("declarations").collect();
        match declared[..] {
            [one] if is_value(statement.child("initialValue")) => one.id(),
            _ => None,
        }
    };
    kept.filter(|id| !program.is_state_variable(*id))
}

/// The contract and function (none for a state variable's initial value) holding `node`.
fn enclosing<'a>(
    program: &Program<'a>,
    node: Node<'_>,
) -> Option<(
    crate::program::Contract<'a>,
    Option<crate::ast::Function<'a>>,
)> {
    let span = node.span()?;
    let contract = program.contracts.iter().find(|c| {
        c.node
            .span()
            .is_some_and(|s| s.file == span.file && s.start <= span.start && span.end() <= s.end())
    })?;
    let function = contract.functions().find(|f| {
        f.node()
            .span()
            .is_some_and(|s| s.start <= span.start && span.end() <= s.end())
    });
    Some((*contract, function))
}

fn describe(program: &Program<'_>, read: Node<'_>) -> String {
    if program.is_global(read, "now") {
        return "`now` (the block timestamp)".into();
    }
    if read.is("FunctionCall") {
        return "`blockhash(…)`".into();
    }
    if read.is("MemberAccess") {
        let base = read
            .child("expression")
            .map(|e| e.name())
            .unwrap_or_default();
        return format!("`{base}.{}`", read.name_of_member());
    }
    "a block value".into()
}

fn operator(node: Node<'_>) -> String {
    match node.kind() {
        "BinaryOperation" => "%".into(),
        _ => node
            .child("expression")
            .map(|c| format!("{}(…)", c.name()))
            .unwrap_or_default(),
    }
}
