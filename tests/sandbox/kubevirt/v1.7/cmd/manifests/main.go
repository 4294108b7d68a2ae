// Command kubevirt-manifests prints, as multi-document YAML, the objects KubeVirt's operator installs
// for virt-api and virt-controller, taken from KubeVirt's own generators (the install strategy's
// sources), so the sandbox runs against KubeVirt's real CRDs, RBAC, APIServices and webhooks.
//
// Without --webhooks it prints the CRDs (the KubeVirt CRD too), RBAC with ServiceAccounts, the
// priority class, the ValidatingAdmissionPolicy for virt-handler and the APIServices; with --webhooks
// only virt-api's mutating and validating webhook configurations (to apply once virt-api serves).
// With --api-url, service references become that URL (virt-api runs outside the cluster).
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/rbac"
	"kubevirt.io/kubevirt/tools/util"
)

func main() {
	namespace := flag.String("namespace", "kubevirt", "KubeVirt's install namespace")
	webhooks := flag.Bool("webhooks", false, "print only virt-api's webhook configurations")
	apiURL := flag.String("api-url", "", "https://HOST:PORT of virt-api, replacing service references")
	caFile := flag.String("ca-bundle", "", "PEM file for the caBundle of webhooks and APIServices")
	flag.Parse()

	caBundle, apiPort := options(*caFile, *apiURL)
	var objects []interface{}
	if *webhooks {
		objects = virtAPIWebhooks(*namespace, *apiURL, caBundle)
	} else {
		objects = append(crds(), rbacObjects(*namespace)...)
		objects = append(objects, components.NewKubeVirtPriorityClassCR())
		objects = append(objects, handlerAdmissionPolicy(*namespace)...)
		for _, service := range components.NewVirtAPIAPIServices(*namespace) {
			service.Spec.CABundle = caBundle
			service.Spec.Service.Port = apiPort
			objects = append(objects, service)
		}
	}
	for _, object := range objects {
		// KubeVirt's own marshaller, as used for its release manifests and install strategy.
		must(util.MarshallObject(object, os.Stdout))
	}
}

func options(caFile, apiURL string) ([]byte, *int32) {
	var caBundle []byte
	if caFile != "" {
		var err error
		caBundle, err = os.ReadFile(caFile)
		must(err)
	}
	if apiURL == "" {
		return caBundle, nil
	}
	parsed, err := url.Parse(apiURL)
	must(err)
	port, err := strconv.ParseInt(parsed.Port(), 10, 32)
	must(err)
	port32 := int32(port)
	return caBundle, &port32
}

// crds lists the install strategy's CRDs (GenerateCurrentInstallStrategy) plus the KubeVirt CRD,
// which the operator's own manifest carries.
func crds() []interface{} {
	constructors := []func() (*extv1.CustomResourceDefinition, error){
		components.NewKubeVirtCrd,
		components.NewVirtualMachineInstanceCrd, components.NewPresetCrd, components.NewReplicaSetCrd,
		components.NewVirtualMachineCrd, components.NewVirtualMachineInstanceMigrationCrd,
		components.NewVirtualMachineSnapshotCrd, components.NewVirtualMachineSnapshotContentCrd,
		components.NewVirtualMachineRestoreCrd, components.NewVirtualMachineInstancetypeCrd,
		components.NewVirtualMachineClusterInstancetypeCrd, components.NewVirtualMachinePoolCrd,
		components.NewMigrationPolicyCrd, components.NewVirtualMachinePreferenceCrd,
		components.NewVirtualMachineClusterPreferenceCrd, components.NewVirtualMachineExportCrd,
		components.NewVirtualMachineCloneCrd,
	}
	var objects []interface{}
	for _, constructor := range constructors {
		crd, err := constructor()
		must(err)
		objects = append(objects, crd)
	}
	return objects
}

// rbacObjects is the install strategy's RBAC (ServiceAccounts, roles, bindings) for the components.
func rbacObjects(namespace string) []interface{} {
	var objects []interface{}
	for _, list := range [][]interface{}{
		toInterfaces(rbac.GetAllCluster()),
		toInterfaces(rbac.GetAllApiServer(namespace)),
		toInterfaces(rbac.GetAllController(namespace)),
		toInterfaces(rbac.GetAllHandler(namespace)),
		toInterfaces(rbac.GetAllExportProxy(namespace)),
		toInterfaces(rbac.GetAllSynchronizationController(namespace)),
	} {
		objects = append(objects, list...)
	}
	return objects
}

func toInterfaces[T any](list []T) []interface{} {
	objects := make([]interface{}, 0, len(list))
	for _, object := range list {
		objects = append(objects, object)
	}
	return objects
}

// handlerAdmissionPolicy is the policy limiting what virt-handler may change on nodes. KubeVirt's
// generator sets apiVersion "v1" on the binding (the operator uses typed clients, which ignore it).
func handlerAdmissionPolicy(namespace string) []interface{} {
	typeMeta := func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: kind}
	}
	handler := fmt.Sprintf("system:serviceaccount:%s:%s", namespace, components.HandlerServiceAccountName)
	policy := components.NewHandlerV1ValidatingAdmissionPolicy(handler)
	policy.TypeMeta = typeMeta("ValidatingAdmissionPolicy")
	binding := components.NewHandlerV1ValidatingAdmissionPolicyBinding()
	binding.TypeMeta = typeMeta("ValidatingAdmissionPolicyBinding")
	return []interface{}{policy, binding}
}

func virtAPIWebhooks(namespace, apiURL string, caBundle []byte) []interface{} {
	mutating := components.NewVirtAPIMutatingWebhookConfiguration(namespace)
	for i := range mutating.Webhooks {
		outOfCluster(&mutating.Webhooks[i].ClientConfig, apiURL, caBundle)
	}
	validating := components.NewVirtAPIValidatingWebhookConfiguration(namespace)
	for i := range validating.Webhooks {
		outOfCluster(&validating.Webhooks[i].ClientConfig, apiURL, caBundle)
	}
	return []interface{}{mutating, validating}
}

func outOfCluster(config *admissionregistrationv1.WebhookClientConfig, apiURL string, caBundle []byte) {
	config.CABundle = caBundle
	if apiURL == "" || config.Service == nil {
		return
	}
	target := apiURL
	if config.Service.Path != nil {
		target += *config.Service.Path
	}
	config.URL = &target
	config.Service = nil
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubevirt-manifests:", err)
		os.Exit(1)
	}
}
