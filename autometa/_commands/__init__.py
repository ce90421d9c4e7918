"""Small CLI subcommands that belong to no subpackage."""
