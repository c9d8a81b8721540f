"""The headless commands: one module per subcommand, each with `register(subparsers)`."""
