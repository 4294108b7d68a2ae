//go:build tools

// Blank imports of the programs build.py builds, so that `go mod tidy` completes go.sum for them.
package tools

import (
	_ "kubevirt.io/kubevirt/cmd/virt-api"
	_ "kubevirt.io/kubevirt/cmd/virt-controller"
)
