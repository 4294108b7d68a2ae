//go:build tools

// A blank import of the program build.py builds, so that `go mod tidy` completes go.sum for it.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
