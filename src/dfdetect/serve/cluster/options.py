"""How the service is laid out on Ray: replicas, resources, autoscaling and job leases."""

from __future__ import annotations

from dataclasses import dataclass

APP_NAME = "dfdetect"  # the Ray Serve application
NAMESPACE = "dfdetect"  # where the job ledger actor is named


@dataclass(frozen=True)
class ReplicaOptions:
    """Replicas of each deployment (the ingress and the face scorer): ``replicas`` fixed, or
    autoscaled between ``min_replicas`` and ``max_replicas`` on ``target_ongoing_requests``
    per replica; each holds ``cpus`` CPUs and ``gpus`` GPUs (fractions allowed). Workers hold
    a job under a lease of ``lease_s``: a job whose replica died runs again once it lapses."""

    address: str | None = None  # None: start a local Ray
    replicas: int = 1
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_ongoing_requests: float = 2.0
    cpus: float = 1.0
    gpus: float = 0.0
    lease_s: float = 30.0
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def autoscaled(self) -> bool:
        """Whether the replica count follows the load."""
        return self.max_replicas is not None

    def deployment(self) -> dict:
        """The replica count (or autoscaling) and resources, as ``Deployment.options`` takes."""
        actor = {"num_cpus": self.cpus, "num_gpus": self.gpus}
        if not self.autoscaled:
            return {"num_replicas": self.replicas, "ray_actor_options": actor}
        scaling = {
            "min_replicas": self.min_replicas or 1,
            "max_replicas": self.max_replicas,
            "target_ongoing_requests": self.target_ongoing_requests,
        }
        return {"autoscaling_config": scaling, "ray_actor_options": actor}
