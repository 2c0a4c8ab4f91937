//! The orchestrator under faults: workers killed by someone else, the orchestrator killed and
//! restarted mid-heal, a flapping MCP server.
