"""Drives cuttle's apiserver with the official Python client (`kubernetes`
on PyPI): typed CRUD, a 409 on a stale resourceVersion, selectors, paging,
a watch, patches, and errors as ApiException with the right status.
Run with KUBECONFIG pointing at the server; exits non-zero on failure."""

import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def main() -> None:
    config.load_kube_config()
    core = client.CoreV1Api()
    apps = client.AppsV1Api()

    names = [ns.metadata.name for ns in core.list_namespace().items]
    assert "kube-system" in names, names

    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py", labels={"lang": "python"}), data={"a": "1"})
    created = core.create_namespaced_config_map("default", cm)
    assert created.metadata.uid and created.metadata.resource_version

    try:
        core.create_namespaced_config_map("default", cm)
        raise AssertionError("a second create must fail")
    except ApiException as e:
        assert e.status == 409, e.status

    created.data = {"a": "2"}
    updated = core.replace_namespaced_config_map("py", "default", created)
    try:
        created.data = {"a": "3"}
        core.replace_namespaced_config_map("py", "default", created)
        raise AssertionError("a stale update must fail")
    except ApiException as e:
        assert e.status == 409, e.status
    assert updated.data["a"] == "2"

    core.patch_namespaced_config_map("py", "default", {"data": {"b": "x"}})
    assert core.read_namespaced_config_map("py", "default").data == {"a": "2", "b": "x"}

    for i in range(7):
        core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"page-{i}")))
    first = core.list_namespaced_config_map("default", limit=3)
    assert len(first.items) == 3 and first.metadata._continue
    rest = core.list_namespaced_config_map("default", limit=100, _continue=first.metadata._continue)
    assert len(first.items) + len(rest.items) == 8, (len(first.items), len(rest.items))
    assert [c.metadata.name for c in core.list_namespaced_config_map("default", label_selector="lang=python").items] == ["py"]

    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]),
            ),
        ),
    )
    apps.create_namespaced_deployment("default", dep)
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 2

    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="p"), spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
    rv = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod)
    w = watch.Watch()
    seen = None
    for event in w.stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=5):
        seen = (event["type"], event["object"].metadata.name)
        w.stop()
    assert seen == ("ADDED", "p"), seen

    try:
        core.read_namespaced_pod("missing", "default")
        raise AssertionError("a missing pod must be 404")
    except ApiException as e:
        assert e.status == 404, e.status
    core.delete_namespaced_pod("p", "default")
    print("python client: ok")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report any failure and exit non-zero
        print(f"python client check failed: {e!r}", file=sys.stderr)
        raise
