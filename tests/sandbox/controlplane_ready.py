"""The control plane once launched (controlplane.py), through the official client: waiting for the API server,
then starting kube-controller-manager and kube-scheduler."""

from __future__ import annotations

import time

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox.apiclient import admin_client, wait_until
from tests.sandbox.controlplane import ControlPlane, launch_controllers
from tests.sandbox.process import Supervisor, poll_until

START_TIMEOUT = 90.0
USER_AGENT = "sandbox-start"


def wait_api_server(plane: ControlPlane) -> None:
    """Returns once the API server is ready (`/readyz`: its storage, bootstrap roles and priority classes, its
    own controllers)."""
    admin = admin_client(plane, USER_AGENT)
    poll_until("kube-apiserver's /readyz", lambda: _ready(admin), time.monotonic() + START_TIMEOUT, *plane.children)


def start_controllers(plane: ControlPlane, supervisor: Supervisor) -> None:
    """Starts kube-controller-manager and kube-scheduler and returns once both answer their health checks
    and the `default` ServiceAccount exists (until kcm made it, the ServiceAccount admission plugin
    rejects pods)."""
    deadline = time.monotonic() + START_TIMEOUT
    (kcm, kcm_serving), (scheduler, scheduler_serving) = launch_controllers(plane, supervisor)
    core = client.CoreV1Api(admin_client(plane, USER_AGENT))
    wait_until("the default ServiceAccount", lambda accounts: "default/default" in accounts, deadline,
               core.list_namespaced_service_account, "default", field_selector="metadata.name=default", child=kcm)
    poll_until("kube-controller-manager's /healthz", kcm_serving, deadline, kcm)
    poll_until("kube-scheduler's /readyz", scheduler_serving, deadline, scheduler)


def _ready(admin: client.ApiClient) -> bool:
    """The API server's /readyz answers 200 (500 lists what is not ready yet)."""
    try:
        admin.call_api("/readyz", "GET", auth_settings=["BearerToken"], _preload_content=False)
    except (ApiException, urllib3.exceptions.HTTPError):
        return False
    return True
