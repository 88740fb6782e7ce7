//! The search attributes operators filter on in the Temporal UI. The server must have them
//! registered (the dev server is started with them; `temporal-compose.yml` registers them).

use temporalio_workflow::common::search_attributes::SearchAttributeKey;

pub const WORKSPACE: SearchAttributeKey<String> = SearchAttributeKey::keyword("LongrunWorkspace");
pub const AGENT: SearchAttributeKey<String> = SearchAttributeKey::keyword("LongrunAgent");
pub const TIER: SearchAttributeKey<String> = SearchAttributeKey::keyword("LongrunTier");
pub const STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("LongrunStatus");

/// Names and types, for registering them on a server: `temporal server start-dev
/// --search-attribute Name=Keyword`.
pub const ALL: [(&str, &str); 4] = [
    ("LongrunWorkspace", "Keyword"),
    ("LongrunAgent", "Keyword"),
    ("LongrunTier", "Keyword"),
    ("LongrunStatus", "Keyword"),
];
