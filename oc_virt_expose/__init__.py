"""virt-expose: expose a KubeVirt virtual machine through a Kubernetes Service in one command."""

__version__ = "0.1.0"
