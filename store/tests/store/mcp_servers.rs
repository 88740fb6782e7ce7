//! MCP servers of a workspace: bounded, unique by name, invisible to other workspaces (and,
//! on Postgres, to a query of another workspace's transaction), their discovered tools
//! versioned by change.

use longrun_store::{McpToolDefinition, NewMcpServer, Store, StoreError};
use serde_json::json;

use crate::fixtures::workspace;

fn tool(name: &str, description: &str) -> McpToolDefinition {
    McpToolDefinition::new(
        name.to_string(),
        description.to_string(),
        json!({"type": "object"}),
    )
}

on_each_backend!(mcp_servers_are_bounded_versioned_and_kept_to_their_workspace);
async fn mcp_servers_are_bounded_versioned_and_kept_to_their_workspace(store: Store) {
    let a = workspace(&store, "mcp-a").await;
    let b = workspace(&store, "mcp-b").await;
    let headers = vec![("Authorization".to_string(), "Bearer s".to_string())];
    let new = |name| NewMcpServer {
        name,
        url: "https://mcp.example/mcp",
        headers: &headers,
    };
    let created = store.create_mcp_server(&a, new("calc"), 2).await.unwrap();
    assert_eq!((created.tools_version, created.needs_refresh), (0, false));
    assert_eq!(created.headers, headers);
    assert!(matches!(
        store.create_mcp_server(&a, new("calc"), 2).await,
        Err(StoreError::Conflict(_))
    ));
    store.create_mcp_server(&a, new("other"), 2).await.unwrap();
    assert!(matches!(
        store.create_mcp_server(&a, new("third"), 2).await,
        Err(StoreError::LimitReached { limit: 2, .. })
    ));
    // Another workspace has its own names and sees none of A's.
    store.create_mcp_server(&b, new("calc"), 2).await.unwrap();
    assert_eq!(store.list_mcp_servers(&b, 20).await.unwrap().len(), 1);
    assert!(store.mcp_server(&b, "other").await.unwrap().is_none());
    assert!(!store.delete_mcp_server(&b, "other").await.unwrap());
    let visible = store.rows_visible_to(&b, "mcp_servers").await.unwrap();
    match store.backend() {
        longrun_store::Backend::Postgres => assert_eq!(visible, 1),
        longrun_store::Backend::Sqlite => assert_eq!(visible, 3),
    }

    // The version counts the discoveries that changed the list.
    let discover = async |tools| {
        store
            .record_mcp_discovery(&a, "calc", tools)
            .await
            .unwrap()
            .expect("the server is registered")
    };
    let first = [tool("add", "Adds."), tool("lookup", "Looks up.")];
    let stored = discover(&first).await;
    assert_eq!(stored.tools_version, 1);
    assert_eq!(stored.tools, first);
    let again = discover(&first).await;
    assert_eq!(again.tools_version, 1);
    store.flag_mcp_refresh(&a, "calc").await.unwrap();
    store.record_mcp_failure(&a, "calc", "down").await.unwrap();
    let flagged = store.mcp_server(&a, "calc").await.unwrap().unwrap();
    assert!(flagged.needs_refresh);
    assert_eq!(flagged.last_error.as_deref(), Some("down"));
    assert_eq!(flagged.tools, first, "a failed discovery keeps the tools");
    let changed = [tool("add", "Adds two.")];
    let refreshed = discover(&changed).await;
    assert_eq!(refreshed.tools_version, 2);
    assert!(!refreshed.needs_refresh);
    assert_eq!(refreshed.last_error, None);
    assert!(
        store
            .record_mcp_discovery(&a, "gone", &changed)
            .await
            .unwrap()
            .is_none()
    );
    // B's server of the same name is untouched.
    assert_eq!(
        store
            .mcp_server(&b, "calc")
            .await
            .unwrap()
            .unwrap()
            .tools_version,
        0
    );

    assert!(store.delete_mcp_server(&a, "calc").await.unwrap());
    assert!(store.mcp_server(&a, "calc").await.unwrap().is_none());
}
