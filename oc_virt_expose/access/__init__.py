"""Everything that talks to the API server: kubeconfig and credentials resolved as kubectl resolves them,
HTTPS transport, the client and its request log, API errors, the list-then-watch helper, and KubeVirt's
reads and writes. Never imports `commands`, `ui` or `cli`."""
