//go:build tools

// Package tools pins krew's programs, built by tests/sandbox/build.py for the packaging tests only:
// `krew` installs the built archive from plugin-manifest.yaml, `validate-krew-manifest` checks the
// manifest as krew-index's CI does.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
