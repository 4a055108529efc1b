"""Where and how the Kubernetes runner's grading pods run: :class:`KubernetesSettings`,
read from the service settings ``K8S_*`` (``GRADER_K8S_*``, documented in
:data:`grader_service.config.SETTINGS`)."""

import dataclasses

IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


@dataclasses.dataclass(frozen=True)
class KubernetesSettings:
    """Where and how grading pods run: the service settings ``K8S_<FIELD>``
    (``GRADER_K8S_<FIELD>``, documented in :data:`grader_service.config.SETTINGS`)."""

    image: str = "dlcourse/sandbox:latest"
    namespace: str = "default"
    service_account: str = ""
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple = ()
    ephemeral_storage: str = "1Gi"
    seccomp_profile: str = ""
    start_timeout: float = 300.0
    node_selector: dict = dataclasses.field(default_factory=dict)
    tolerations: list = dataclasses.field(default_factory=list)
    priority_class: str = ""
    runtime_class: str = ""
    pod_labels: dict = dataclasses.field(default_factory=dict)
    ttl_seconds: int = 300
    poll_seconds: float = 1.0

    @classmethod
    def from_config(cls, config):
        """The settings from the service's config (its ``K8S_*`` keys and the image)."""
        values = {field.name: config[f"K8S_{field.name.upper()}"]
                  for field in dataclasses.fields(cls) if field.name != "image"}
        if not values["namespace"]:
            values["namespace"] = _in_cluster_namespace() or "default"
        return cls(image=config["SANDBOX_IMAGE"], **values)


def _in_cluster_namespace():
    try:
        with open(IN_CLUSTER_NAMESPACE_FILE) as fh:
            return fh.read().strip()
    except OSError:
        return ""
