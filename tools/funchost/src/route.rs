//! Route templates as the Functions host matches them (ASP.NET Core routing): literal segments compared
//! ignoring case, `{name}` parameters, `{name:constraint}` with `regex(...)`, `int`, `alpha` or `guid`,
//! optional `{name?}`, and a final catch-all `{*name}` that also matches nothing. When several functions
//! match, literals win over constrained parameters, those over plain ones, and catch-alls come last.
//!
//! Hand-written: ASP.NET's matcher has no Rust port, and the few rules pieshop's routes use fit here.
//! Source: https://learn.microsoft.com/aspnet/core/fundamentals/routing ("Route template reference",
//! "Route constraints", "URL matching"); the `regex` constraint is matched ignoring case, as ASP.NET's
//! `RegexRouteConstraint` does.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use regex::{Regex, RegexBuilder};

/// One segment of a template.
#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Parameter { name: String, constraint: Option<Constraint>, optional: bool },
    CatchAll { name: String },
}

#[derive(Debug, Clone)]
enum Constraint {
    Regex(Regex),
    Int,
    Alpha,
    Guid,
}

impl Constraint {
    fn parse(text: &str) -> anyhow::Result<Self> {
        if let Some(pattern) = text.strip_prefix("regex(").and_then(|r| r.strip_suffix(')')) {
            let regex = RegexBuilder::new(pattern).case_insensitive(true).build().context("bad regex constraint")?;
            return Ok(Constraint::Regex(regex));
        }
        Ok(match text {
            "int" => Constraint::Int,
            "alpha" => Constraint::Alpha,
            "guid" => Constraint::Guid,
            other => bail!("route constraint {other:?} is not served by this stand-in"),
        })
    }

    fn accepts(&self, value: &str) -> bool {
        match self {
            Constraint::Regex(regex) => regex.is_match(value),
            Constraint::Int => value.parse::<i32>().is_ok(),
            Constraint::Alpha => value.chars().all(|c| c.is_ascii_alphabetic()),
            Constraint::Guid => uuid::Uuid::parse_str(value).is_ok(),
        }
    }
}

/// A parsed `route` of an HTTP trigger (without the route prefix).
#[derive(Debug, Clone)]
pub struct RouteTemplate {
    segments: Vec<Segment>,
}

impl RouteTemplate {
    pub fn parse(template: &str) -> anyhow::Result<Self> {
        let mut segments = Vec::new();
        let parts = split_segments(template.trim_matches('/'));
        let count = parts.len();
        for (index, part) in parts.into_iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                None if part.contains('{') || part.contains('}') => bail!("complex segment {part:?} is not served"),
                None => Segment::Literal(part.to_ascii_lowercase()),
                Some(inner) => match inner.strip_prefix('*') {
                    Some(name) if index + 1 == count => Segment::CatchAll { name: name.trim_start_matches('*').into() },
                    Some(_) => bail!("a catch-all parameter must be the last segment"),
                    None => {
                        let (name, constraint) = match inner.split_once(':') {
                            Some((name, constraint)) => (name, Some(Constraint::parse(constraint)?)),
                            None => (inner, None),
                        };
                        let optional = name.ends_with('?');
                        Segment::Parameter { name: name.trim_end_matches('?').into(), constraint, optional }
                    }
                },
            };
            segments.push(segment);
        }
        Ok(Self { segments })
    }

    /// The route values if `path` (below the prefix, no leading slash) matches.
    pub fn matches(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let parts: Vec<&str> = if path.is_empty() { Vec::new() } else { path.split('/').collect() };
        let mut values = BTreeMap::new();
        for (index, segment) in self.segments.iter().enumerate() {
            let part = parts.get(index).copied();
            match segment {
                Segment::Literal(literal) => {
                    if !part.is_some_and(|p| p.eq_ignore_ascii_case(literal)) {
                        return None;
                    }
                }
                Segment::Parameter { name, constraint, optional } => match part.filter(|p| !p.is_empty()) {
                    Some(value) if constraint.as_ref().is_none_or(|c| c.accepts(value)) => {
                        values.insert(name.clone(), value.to_owned());
                    }
                    None if *optional && index + 1 >= parts.len() => {}
                    _ => return None,
                },
                Segment::CatchAll { name } => {
                    values.insert(name.clone(), parts.get(index..).map(|rest| rest.join("/")).unwrap_or_default());
                    return Some(values);
                }
            }
        }
        (parts.len() <= self.segments.len()).then_some(values)
    }

    /// Orders templates as ASP.NET does when several match: per segment, literal < constrained parameter <
    /// parameter < catch-all (smaller sorts first).
    pub fn precedence(&self) -> Vec<u8> {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => 1,
                Segment::Parameter { constraint: Some(_), .. } => 2,
                Segment::Parameter { .. } => 3,
                Segment::CatchAll { .. } => 4,
            })
            .collect()
    }
}

/// Splits on `/` outside braces (a regex constraint may contain a slash).
fn split_segments(template: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    for c in template.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '/' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().expect("never empty").push(c);
    }
    if template.is_empty() { Vec::new() } else { parts }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "{resource:regex(^(inventory|activity|health|dashboard)$)}/{*rest}";

    #[test]
    fn a_catch_all_also_matches_nothing() {
        let commands = RouteTemplate::parse("commands/{*rest}").unwrap();
        assert_eq!(commands.matches("commands").unwrap()["rest"], "");
        assert_eq!(commands.matches("Commands/batch").unwrap()["rest"], "batch");
        assert!(commands.matches("command").is_none());
    }

    #[test]
    fn a_regex_constraint_picks_the_resource_and_ignores_case() {
        let query = RouteTemplate::parse(QUERY).unwrap();
        let values = query.matches("inventory/store-1/apple-pie").unwrap();
        assert_eq!((values["resource"].as_str(), values["rest"].as_str()), ("inventory", "store-1/apple-pie"));
        assert!(query.matches("Health").is_some());
        assert!(query.matches("commands").is_none());
        assert!(query.matches("").is_none(), "the first parameter is required");
        assert!(query.matches("inventoryx").is_none(), "anchored");
    }

    #[test]
    fn parameters_constraints_and_precedence() {
        let item = RouteTemplate::parse("items/{id:int}/{name?}").unwrap();
        assert_eq!(item.matches("items/42").unwrap()["id"], "42");
        assert_eq!(item.matches("items/42/x").unwrap()["name"], "x");
        assert!(item.matches("items/x").is_none());
        assert!(item.matches("items/42/x/y").is_none(), "no catch-all: extra segments do not match");
        let literal = RouteTemplate::parse("commands/batch").unwrap();
        let catch_all = RouteTemplate::parse("commands/{*rest}").unwrap();
        assert!(literal.precedence() < catch_all.precedence());
        assert!(RouteTemplate::parse("a/{*rest}/b").is_err());
    }
}
