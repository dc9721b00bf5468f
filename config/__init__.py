"""What the operator configured: settings from the environment and the TOML file, read by every layer."""
