// Test-only, nothing is built: the Route CRD that MicroShift installs (route/v1/zz_generated.crd-manifests/
// routes.crd.yaml), as published in this module; build.py copies it from the module cache (route_crd()).
// Not `go mod tidy`: no Go file imports the module, so tidy would drop the requirement.
module virt-expose/tests/sandbox/tools/openshift-api

go 1.26

require github.com/openshift/api v0.0.0-20250710004639-926605d3338b
