// Command kubevirt-manifests prints, as multi-document YAML, the objects KubeVirt's operator installs
// for virt-api and virt-controller, taken from KubeVirt's own generators (the install strategy's
// sources), so the sandbox runs against KubeVirt's real CRDs, RBAC, APIServices and webhooks.
//
// By default it prints the CRDs (the KubeVirt CRD too), RBAC with ServiceAccounts, the priority
// class, the ValidatingAdmissionPolicy for virt-handler, the CA ConfigMaps and virt-api's Service.
// With --routes it prints only the objects that route requests to virt-api: its APIServices and its
// mutating and validating webhook configurations, to apply once virt-api serves (an APIService
// created earlier is marked unavailable and rechecked only after a back-off).
// With --api-url (virt-api runs outside the cluster), the webhooks call that URL and virt-api's
// Service becomes an ExternalName Service pointing at its host and port.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/rbac"
)

func main() {
	namespace := flag.String("namespace", "kubevirt", "KubeVirt's install namespace")
	routes := flag.Bool("routes", false, "print only virt-api's APIServices and webhook configurations")
	apiURL := flag.String("api-url", "", "https://HOST:PORT of virt-api, replacing service references")
	caFile := flag.String("ca-bundle", "", "PEM file for the caBundle of webhooks and APIServices")
	flag.Parse()

	caBundle, apiPort := options(*caFile, *apiURL)
	var objects []interface{}
	if *routes {
		objects = virtAPIRoutes(*namespace, *apiURL, apiPort, caBundle)
	} else {
		objects = append(crds(), rbacObjects(*namespace)...)
		objects = append(objects, components.NewKubeVirtPriorityClassCR())
		objects = append(objects, handlerAdmissionPolicy(*namespace)...)
		for _, configMap := range components.NewCAConfigMaps(*namespace) {
			// The operator fills these with its CA; virt-api checks virt-handler's client certificates with it.
			configMap.Data = map[string]string{components.CABundleKey: string(caBundle)}
			objects = append(objects, configMap)
		}
		objects = append(objects, virtAPIService(*namespace, *apiURL, apiPort))
	}
	for _, object := range objects {
		printYAML(object)
	}
}

// printYAML prints one document without the fields the API server sets, as KubeVirt's
// tools/util.MarshallObject does; that function is not used because its quote fixes for templates
// break descriptions in the CRDs' schemas.
func printYAML(object interface{}) {
	data, err := json.Marshal(object)
	must(err)
	var fields map[string]interface{}
	must(json.Unmarshal(data, &fields))
	delete(fields, "status")
	if metadata, ok := fields["metadata"].(map[string]interface{}); ok {
		delete(metadata, "creationTimestamp")
	}
	data, err = yaml.Marshal(fields)
	must(err)
	fmt.Printf("---\n%s", data)
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

// virtAPIService is the operator's Service for virt-api; with --api-url it becomes an ExternalName
// Service to that host and port (no pods or kube-proxy behind it), through which the aggregator
// reaches virt-api.
func virtAPIService(namespace, apiURL string, apiPort *int32) *corev1.Service {
	service := components.NewApiServerService(namespace)
	if apiURL == "" {
		return service
	}
	parsed, err := url.Parse(apiURL)
	must(err)
	host := parsed.Hostname()
	if net.ParseIP(host) != nil {
		host = "localhost" // an ExternalName is a DNS name
	}
	service.Spec = corev1.ServiceSpec{
		Type:         corev1.ServiceTypeExternalName,
		ExternalName: host,
		Ports: []corev1.ServicePort{{
			Name: "https", Protocol: corev1.ProtocolTCP, Port: *apiPort,
			TargetPort: intstr.FromInt32(*apiPort),
		}},
	}
	return service
}

func virtAPIRoutes(namespace, apiURL string, apiPort *int32, caBundle []byte) []interface{} {
	var objects []interface{}
	for _, service := range components.NewVirtAPIAPIServices(namespace) {
		service.Spec.CABundle = caBundle
		service.Spec.Service.Port = apiPort
		objects = append(objects, service)
	}
	mutating := components.NewVirtAPIMutatingWebhookConfiguration(namespace)
	for i := range mutating.Webhooks {
		outOfCluster(&mutating.Webhooks[i].ClientConfig, apiURL, caBundle)
	}
	validating := components.NewVirtAPIValidatingWebhookConfiguration(namespace)
	for i := range validating.Webhooks {
		outOfCluster(&validating.Webhooks[i].ClientConfig, apiURL, caBundle)
	}
	return append(objects, mutating, validating)
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
