"""The `stratlog` console command: subcommands over the trainer, sink and dashboard packages."""
