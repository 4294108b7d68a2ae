"""One package or module per verb: `options` (flags -> a validated request, no cluster) and `run` (the
work, through `access`, printed through `ui`). `cli.main` imports a command's `run` only once its options
validate, so a usage error costs no more than `--help`."""
