"""One module per route, each with its own AppState substate beside the page function."""
