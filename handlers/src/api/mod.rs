//! The API surface above the functions: the router that puts every function at its path, and the OpenAPI
//! document that describes them.

pub mod openapi;
pub mod router;
