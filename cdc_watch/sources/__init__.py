"""Sources: each polls one upstream (Connect REST, Jolokia, MySQL) and returns typed data."""
