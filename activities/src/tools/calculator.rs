//! The `calculator` tool: evaluates an arithmetic expression. Pure and fast, so the workflow
//! runs it as a local activity.
//!
//! Grammar (usual precedence, `^` binds tightest and to the right):
//! `expr = term (('+'|'-') term)*`, `term = power (('*'|'/'|'%') power)*`,
//! `power = unary ('^' power)?`, `unary = ('-'|'+') unary | number | '(' expr ')'`.

use serde_json::{Value, json};

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 1024;
/// Deepest nesting of parentheses and unary signs accepted.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalcError {
    #[error("the expression is empty")]
    Empty,
    #[error("the expression is longer than {MAX_EXPRESSION_LEN} bytes")]
    TooLong,
    #[error("the expression nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("unexpected {found} at position {position}")]
    Unexpected { found: String, position: usize },
    #[error("division by zero")]
    DivisionByZero,
    #[error("the result is not a finite number")]
    NotFinite,
}

/// The JSON schema declared to the model.
pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "description": "An arithmetic expression: numbers, + - * / % ^ and parentheses.",
                "maxLength": MAX_EXPRESSION_LEN
            }
        },
        "required": ["expression"],
        "additionalProperties": false
    })
}

pub const DESCRIPTION: &str = "Evaluates an arithmetic expression exactly as written and \
     returns the number. Supports + - * / % ^ and parentheses.";

/// Runs the tool on the model's input: `{"expression": "…"}`; bad input or an expression
/// that does not evaluate is an error result the model can react to.
pub fn run(input: &serde_json::Value) -> longrun_workflows::payloads::ToolOutcome {
    let Some(expression) = input.get("expression").and_then(serde_json::Value::as_str) else {
        return super::error("invalid input: \"expression\" (a string) is required");
    };
    match evaluate(expression) {
        Ok(value) => longrun_workflows::payloads::ToolOutcome {
            content: format_number(value),
            is_error: false,
        },
        Err(err) => super::error(&format!("cannot evaluate {expression:?}: {err}")),
    }
}

/// Evaluates `expression`.
pub fn evaluate(expression: &str) -> Result<f64, CalcError> {
    if expression.len() > MAX_EXPRESSION_LEN {
        return Err(CalcError::TooLong);
    }
    if expression.trim().is_empty() {
        return Err(CalcError::Empty);
    }
    let mut parser = Parser {
        bytes: expression.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let value = parser.expr()?;
    parser.skip_spaces();
    if parser.pos < parser.bytes.len() {
        return Err(parser.unexpected());
    }
    if !value.is_finite() {
        return Err(CalcError::NotFinite);
    }
    Ok(value)
}

/// Formats a result the way a person writes it: integers without a fraction.
pub fn format_number(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.bytes.get(self.pos).copied()
    }

    fn unexpected(&self) -> CalcError {
        let found = match self.bytes.get(self.pos) {
            None => "end of expression".to_string(),
            Some(_) => {
                let rest = String::from_utf8_lossy(&self.bytes[self.pos..]);
                format!("{:?}", rest.chars().next().unwrap_or('?'))
            }
        };
        CalcError::Unexpected {
            found,
            position: self.pos,
        }
    }

    /// Skips the operator at the cursor and parses what `inner` parses, one level deeper:
    /// past the limit of nesting, the expression is refused.
    fn nested(&mut self, inner: fn(&mut Self) -> Result<f64, CalcError>) -> Result<f64, CalcError> {
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CalcError::TooDeep);
        }
        let value = inner(self)?;
        self.depth -= 1;
        Ok(value)
    }

    /// A divisor, which must not be zero.
    fn divisor(&mut self) -> Result<f64, CalcError> {
        let divisor = self.power()?;
        if divisor == 0.0 {
            return Err(CalcError::DivisionByZero);
        }
        Ok(divisor)
    }

    fn expr(&mut self) -> Result<f64, CalcError> {
        let mut value = self.term()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.pos += 1;
            let right = self.term()?;
            value = if op == b'+' {
                value + right
            } else {
                value - right
            };
        }
        Ok(value)
    }

    fn term(&mut self) -> Result<f64, CalcError> {
        let mut value = self.power()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.pos += 1;
            value = match op {
                b'*' => value * self.power()?,
                b'/' => value / self.divisor()?,
                _ => value % self.divisor()?,
            };
        }
        Ok(value)
    }

    fn power(&mut self) -> Result<f64, CalcError> {
        let base = self.unary()?;
        if self.peek() == Some(b'^') {
            return Ok(base.powf(self.nested(Self::power)?));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<f64, CalcError> {
        match self.peek() {
            Some(b'-') => Ok(-self.nested(Self::unary)?),
            Some(b'+') => self.nested(Self::unary),
            Some(b'(') => self.nested(|parser| {
                let value = parser.expr()?;
                if parser.peek() != Some(b')') {
                    return Err(parser.unexpected());
                }
                parser.pos += 1;
                Ok(value)
            }),
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            _ => Err(self.unexpected()),
        }
    }

    fn number(&mut self) -> Result<f64, CalcError> {
        let start = self.pos;
        while self.pos < self.bytes.len()
            && (self.bytes[self.pos].is_ascii_digit() || self.bytes[self.pos] == b'.')
        {
            self.pos += 1;
        }
        // Only ASCII digits and dots were consumed, so this slice is valid UTF-8.
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default();
        text.parse::<f64>().map_err(|_| {
            self.pos = start;
            self.unexpected()
        })
    }
}

/// Finds the arithmetic expression in a sentence ("What is 12 * (3 + 4)?" → "12 * (3 + 4)"):
/// the longest span of arithmetic characters that holds an operator between numbers and
/// evaluates. Used by the offline model.
pub fn find_expression(text: &str) -> Option<String> {
    let is_arith = |c: char| c.is_ascii_digit() || " .+-*/%^()".contains(c);
    let mut best: Option<String> = None;
    let mut start: Option<usize> = None;
    let mut consider = |span: &str| {
        let candidate = span
            .trim()
            .trim_end_matches(|c: char| "+-*/%^(. ".contains(c))
            .trim_start_matches(|c: char| "*/%^). ".contains(c))
            .trim();
        let balanced = balance_parentheses(candidate);
        let has_operator = balanced
            .char_indices()
            .skip(1)
            .any(|(_, c)| "+-*/%^".contains(c));
        if has_operator
            && balanced.chars().any(|c| c.is_ascii_digit())
            && evaluate(&balanced).is_ok()
            && best.as_ref().is_none_or(|b| balanced.len() > b.len())
        {
            best = Some(balanced);
        }
    };
    for (i, c) in text.char_indices() {
        match (is_arith(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                consider(&text[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        consider(&text[s..]);
    }
    best
}

/// Drops unmatched parentheses at the edges of a span cut out of a sentence.
fn balance_parentheses(span: &str) -> String {
    let mut text = span.to_string();
    loop {
        let opens = text.matches('(').count();
        let closes = text.matches(')').count();
        if opens > closes && text.starts_with('(') {
            text.remove(0);
        } else if closes > opens && text.ends_with(')') {
            text.pop();
        } else {
            return text.trim().to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_with_usual_precedence() {
        let table = [
            ("1 + 2 * 3", 7.0),
            ("(1 + 2) * 3", 9.0),
            ("2 ^ 3 ^ 2", 512.0),
            ("-2 ^ 2", 4.0),
            ("10 / 4", 2.5),
            ("7 % 4", 3.0),
            ("- - 3", 3.0),
            ("1.5 * 2", 3.0),
            ("12 * (3 + 4)", 84.0),
        ];
        for (expression, expected) in table {
            assert_eq!(evaluate(expression), Ok(expected), "{expression}");
        }
    }

    #[test]
    fn rejects_bad_expressions_with_a_reason() {
        assert_eq!(evaluate(""), Err(CalcError::Empty));
        assert_eq!(evaluate("1 / 0"), Err(CalcError::DivisionByZero));
        assert_eq!(evaluate("1 % 0"), Err(CalcError::DivisionByZero));
        assert!(matches!(evaluate("1 +"), Err(CalcError::Unexpected { .. })));
        assert!(matches!(evaluate("(1"), Err(CalcError::Unexpected { .. })));
        assert!(matches!(
            evaluate("1..2"),
            Err(CalcError::Unexpected { .. })
        ));
        assert!(matches!(
            evaluate("2 x 3"),
            Err(CalcError::Unexpected { .. })
        ));
        assert_eq!(evaluate("10 ^ 400"), Err(CalcError::NotFinite));
        assert_eq!(evaluate(&"1+".repeat(600)), Err(CalcError::TooLong));
        assert_eq!(evaluate(&"(".repeat(100)), Err(CalcError::TooDeep));
        assert_eq!(evaluate(&"-".repeat(100)), Err(CalcError::TooDeep));
    }

    #[test]
    fn formats_integers_without_fraction() {
        assert_eq!(format_number(84.0), "84");
        assert_eq!(format_number(-3.0), "-3");
        assert_eq!(format_number(2.5), "2.5");
    }

    #[test]
    fn finds_the_expression_in_a_sentence() {
        let table = [
            ("What is 12 * (3 + 4)?", Some("12 * (3 + 4)")),
            ("Compute (2+3)*4 please.", Some("(2+3)*4")),
            ("what's 17 - 5", Some("17 - 5")),
            ("I have 3 apples.", None),
            ("Hello there", None),
            ("the year 2024-2025 and then 6 / 3", Some("2024-2025")),
        ];
        for (text, expected) in table {
            assert_eq!(find_expression(text).as_deref(), expected, "{text}");
        }
    }
}
