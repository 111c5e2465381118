//! The OpenAPI 3.1 document of the HTTP API, generated from the code: the routes' `#[utoipa::path]`
//! annotations sit on the handlers themselves, the bodies are the contract's types, and the problems come from
//! `problem::CATALOGUE`. Served at `GET /api/openapi.json`; `docs/openapi.json` is a committed copy that a test
//! holds equal to what the binary serves (`handler openapi` prints it).

use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::contract::FieldError;
use crate::contract::command_schema::{CountCommand, DefineProductCommand, ReceiveCommand, RemoveCommand};
use crate::contract::command_schema::{DefineLocationCommand, RejectedCommand, RetireLocationCommand, TransferCommand};
use crate::contract::wire_rules::GTIN_PATTERN;
use crate::functions::{command, dashboard, health, negotiate, query};
use crate::http::auth::{KEY_HEADER, KEY_PARAMETER};
use crate::http::problem::{CATALOGUE, Kind, Member, RETRY_AFTER_SECONDS};
use crate::http::responses::{InvalidParameters, NotModified, PayloadTooLarge, UnsupportedMediaType};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pieshop",
        description = "Serverless CQRS inventory: scanners post commands, dashboards query one view of stock \
            across every location. The contract in prose is docs/API.md; every path is under the Functions route \
            prefix `/api`, and the standalone server serves the same paths.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        command::post_one,
        command::post_batch,
        query::inventory,
        query::summary,
        query::item,
        query::activity,
        query::locations,
        health::health,
        dashboard::page,
        negotiate::negotiate,
        openapi_json,
    ),
    components(
        schemas(
            ReceiveCommand,
            RemoveCommand,
            CountCommand,
            TransferCommand,
            DefineProductCommand,
            DefineLocationCommand,
            RetireLocationCommand,
            RejectedCommand,
            FieldError
        ),
        responses(NotModified, InvalidParameters, PayloadTooLarge, UnsupportedMediaType)
    ),
    tags(
        (name = "commands", description = "Function `command`: changes to stock, products and locations, each exactly once."),
        (name = "queries", description = "Function `query`: the read model, with ETags and long polling."),
        (name = "operations", description = "Health, the dashboard and this document."),
        (name = "push", description = "Function `negotiate`: live push over SignalR (hub `inventory`)."),
    )
)]
struct Generated;

/// `GET /api/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This OpenAPI document",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json",
        body = Object)),
)]
pub async fn openapi_json() -> Response {
    static TEXT: LazyLock<String> = LazyLock::new(text);
    let mut response = TEXT.as_str().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

/// The document as pretty-printed JSON text, newline-terminated (the form `docs/openapi.json` is kept in).
pub fn text() -> String {
    // Infallible: a tree of JSON values.
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// The whole document: what the annotations generate, plus what is built from tables the code already keeps
/// (the problem catalogue, the key scheme) and what utoipa cannot say (links, shared error answers).
pub fn document() -> Value {
    let mut doc = serde_json::to_value(Generated::openapi()).unwrap_or_default();
    add_problems(&mut doc);
    add_security(&mut doc);
    add_common_answers(&mut doc);
    add_links(&mut doc);
    add_product_refs(&mut doc);
    doc
}

/// A stock command names its product by `sku` or by `barcode`, exactly one of the two (a null one is not given):
/// a `oneOf` of "this one is a string" (a body with both matches both, one with neither matches none, and both
/// are refused), which utoipa's derive cannot say.
fn add_product_refs(doc: &mut Value) {
    for command in ["ReceiveCommand", "RemoveCommand", "CountCommand", "TransferCommand"] {
        let schema = &mut doc["components"]["schemas"][command];
        if let Some(required) = schema["required"].as_array_mut() {
            required.retain(|field| field != "sku" && field != "barcode");
        }
        schema["oneOf"] = json!([
            {"required": ["sku"], "properties": {"sku": {"type": "string"}}},
            {"required": ["barcode"], "properties": {"barcode": {"type": "string"}}},
        ]);
    }
}

/// `InvalidRequestProblem` and the like, one per kind, plus `Problem` (any of them) and
/// `CommandConflictProblem` (the 409s a command can meet), told apart by `type`.
fn add_problems(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    let mut every = Vec::new();
    for kind in CATALOGUE {
        schemas[schema_name(kind)] = problem_schema(kind);
        every.push(kind);
    }
    // The README's example of a refusal.
    schemas["InsufficientStockProblem"]["examples"] = json!([{
        "type": "urn:pieshop:problem:insufficient-stock", "title": "Insufficient stock", "status": 409,
        "detail": "only 4 on hand, 40 requested", "available": 4, "requested": 40,
    }]);
    schemas["Problem"] = one_of(&every);
    let conflicts: Vec<&Kind> = CATALOGUE.iter().filter(|k| k.status == 409).collect();
    schemas["CommandConflictProblem"] = one_of(&conflicts);
}

/// `invalid-request` → `InvalidRequestProblem`.
fn schema_name(kind: &Kind) -> String {
    let words: String = kind
        .slug
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    format!("{words}Problem")
}

fn problem_schema(kind: &Kind) -> Value {
    let mut properties = Map::new();
    properties.insert("type".into(), json!({"type": "string", "const": format!("urn:pieshop:problem:{}", kind.slug)}));
    properties.insert("title".into(), json!({"type": "string", "examples": [kind.title]}));
    properties.insert("status".into(), json!({"type": "integer", "const": kind.status}));
    properties.insert("detail".into(), json!({"type": "string"}));
    let mut required = vec!["type", "title", "status", "detail"];
    for (name, member) in kind.members {
        let schema = match member {
            Member::Count => json!({"type": "integer", "minimum": 0}),
            Member::Stock => json!({"type": "integer"}),
            Member::Instant => json!({"type": "string", "format": "date-time"}),
            Member::Version => json!({"type": "integer", "minimum": 0}),
            Member::FieldErrors => json!({"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}),
            Member::Barcode => json!({"type": "string", "pattern": GTIN_PATTERN, "examples": ["4006381333931"]}),
            Member::Sku => json!({"type": "string", "pattern": crate::domain::ids::NAME_PATTERN}),
            Member::Location => json!({"type": "string", "pattern": crate::domain::ids::NAME_PATTERN}),
        };
        properties.insert((*name).into(), schema);
        required.push(name);
    }
    json!({
        "type": "object",
        "description": format!("RFC 9457 problem details: {} ({}).", kind.title, kind.status),
        "properties": properties,
        "required": required,
    })
}

fn one_of(kinds: &[&Kind]) -> Value {
    let reference = |kind: &Kind| format!("#/components/schemas/{}", schema_name(kind));
    let mapping: Map<String, Value> =
        kinds.iter().map(|k| (format!("urn:pieshop:problem:{}", k.slug), json!(reference(k)))).collect();
    json!({
        "oneOf": kinds.iter().map(|k| json!({"$ref": reference(k)})).collect::<Vec<_>>(),
        "discriminator": {"propertyName": "type", "mapping": mapping},
    })
}

/// Function keys, as the Functions host reads them: the `x-functions-key` header, or the `code` query
/// parameter. Needed by every operation that does not say otherwise (`security: [{}]`).
fn add_security(doc: &mut Value) {
    let description = "A function key (in Azure, of the function named by the operation's tag; standalone, any \
        key of `PIESHOP_API_KEYS`). Without `PIESHOP_API_KEYS` the standalone server needs none.";
    doc["components"]["securitySchemes"] = json!({
        "functionKey": {"type": "apiKey", "in": "header", "name": KEY_HEADER, "description": description},
        "functionKeyQuery": {"type": "apiKey", "in": "query", "name": KEY_PARAMETER, "description": description},
    });
    doc["security"] = json!([{"functionKey": []}, {"functionKeyQuery": []}]);
}

/// The answers every operation can give, whatever it does: 401 where a key is needed, and 500/503 wherever a
/// backend is read (everything but the dashboard and this document, which are built into the binary).
fn add_common_answers(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let open = operation["security"].as_array().is_some_and(|s| s.iter().all(|r| r == &json!({})));
        let built_in = matches!(operation["operationId"].as_str(), Some("dashboard" | "openapi"));
        let responses = &mut operation["responses"];
        if !open {
            responses["401"] = problem_answer("No valid function key.", "UnauthorizedProblem", false);
        }
        if !built_in {
            responses["500"] =
                problem_answer("A bug or corrupt data; logged, never detailed.", "InternalProblem", false);
            responses["503"] = problem_answer(
                "A backend is down or throttled; retry after `Retry-After`.",
                "UnavailableProblem",
                true,
            );
        }
    }
}

fn problem_answer(description: &str, schema: &str, retry_after: bool) -> Value {
    let mut answer = json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
    });
    if retry_after {
        answer["headers"] = json!({"Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "integer", "examples": [RETRY_AFTER_SECONDS]},
            "required": true,
        }});
    }
    answer
}

/// OpenAPI links from a command's answer to the item it changed, which stateful testers (and readers) follow.
fn add_links(doc: &mut Value) {
    let item = |pointer: &str| {
        json!({
            "operationId": "getItem",
            "description": "The item the command changed, as the read model shows it.",
            "parameters": {
                "location": format!("$response.body#{pointer}/location"),
                "sku": format!("$response.body#{pointer}/sku"),
            },
        })
    };
    doc["paths"]["/api/commands"]["post"]["responses"]["200"]["links"] = json!({"GetChangedItem": item("/items/0")});
    doc["paths"]["/api/commands/batch"]["post"]["responses"]["200"]["links"] =
        json!({"GetFirstChangedItem": item("/results/0/items/0")});
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::views::IDENTIFIER_PATTERN;

    #[test]
    fn every_problem_kind_has_its_schema_and_is_in_problem() {
        let doc = document();
        let any = doc["components"]["schemas"]["Problem"]["oneOf"].as_array().unwrap().len();
        assert_eq!(any, CATALOGUE.len());
        for kind in CATALOGUE {
            let schema = &doc["components"]["schemas"][schema_name(kind)];
            for (member, _) in kind.members {
                assert!(schema["properties"].get(*member).is_some(), "{} lacks {member}", kind.slug);
            }
        }
        assert_eq!(schema_name(&CATALOGUE[0]), "InvalidRequestProblem");
    }

    /// Every pattern given to a `location`, `sku`, `from` or `to`, wherever it is in `value`.
    fn identifier_patterns<'a>(value: &'a Value, name: Option<&str>, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let (Some("location" | "sku" | "from" | "to"), Some(pattern)) = (name, map.get("pattern")) {
                    found.push(pattern.as_str().unwrap());
                }
                let named = map.get("name").and_then(Value::as_str);
                if let (Some("location" | "sku"), Some(pattern)) =
                    (named, map.get("schema").and_then(|s| s.get("pattern")))
                {
                    found.push(pattern.as_str().unwrap());
                }
                for (key, member) in map {
                    identifier_patterns(member, Some(key), found);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| identifier_patterns(item, None, found)),
            _ => {}
        }
    }

    #[test]
    fn every_identifier_in_the_document_follows_the_contracts_rule() {
        let doc = document();
        let mut found = Vec::new();
        identifier_patterns(&doc, None, &mut found);
        assert!(found.len() > 20, "only {} identifier patterns found", found.len());
        // Query filters also take an empty value, which means no filter.
        let filter = format!("^({})?$", IDENTIFIER_PATTERN.trim_start_matches('^').trim_end_matches('$'));
        for pattern in found {
            assert!(pattern == IDENTIFIER_PATTERN || pattern == filter, "{pattern}");
        }
    }

    #[test]
    fn every_route_of_the_api_is_described() {
        let doc = document();
        let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        for path in ["/api/commands", "/api/commands/batch", "/api/inventory", "/api/inventory/summary"] {
            assert!(paths.contains(&&path.to_string()), "{path} missing");
        }
        for path in
            ["/api/inventory/{location}/{sku}", "/api/activity", "/api/locations", "/api/health", "/api/openapi.json"]
        {
            assert!(paths.contains(&&path.to_string()), "{path} missing");
        }
    }
}
