// Command kube-sandbox is the sandbox's real Kubernetes control plane in one binary: each subcommand
// runs one component (embedded etcd, or the unmodified kube-apiserver, kube-controller-manager and
// kube-scheduler commands of k8s.io/kubernetes), one component per process.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	_ "time/tzdata" // CronJob time zones, as the upstream commands do

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

// commands maps a subcommand to the upstream cobra command it runs.
var commands = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]
	if name == "etcd" {
		os.Exit(runEtcd(args))
	}
	newCommand, ok := commands[name]
	if !ok {
		usage()
		os.Exit(2)
	}
	command := newCommand()
	command.SetArgs(args) // cobra would otherwise read os.Args[1:], which starts with our subcommand
	os.Exit(cli.Run(command))
}

func usage() {
	names := []string{"etcd"}
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: %s {%s} [flags]\n", os.Args[0], strings.Join(names, "|"))
}
