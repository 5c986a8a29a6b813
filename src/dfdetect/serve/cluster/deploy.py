"""The service as a Ray Serve application: the FastAPI app of ``dfdetect serve`` as the
ingress, the face scorer behind it, and the job ledger; :func:`serve_on_ray` runs it."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import fields, replace
from pathlib import Path

try:
    import ray
    from ray import serve
except ImportError as exc:
    raise ImportError(
        "serving on Ray needs Ray Serve: pip install 'dfdetect[cluster]' (or 'ray[serve]')"
    ) from exc

from dfdetect.errors import DfdetectError
from dfdetect.scan.cluster.sources import is_url
from dfdetect.serve.cluster.ledger import LedgerStore, start_ledger
from dfdetect.serve.cluster.options import APP_NAME, ReplicaOptions
from dfdetect.serve.cluster.scoring import FaceScorer, RemoteScorer
from dfdetect.serve.cluster.store import RemoteData, staging_dir
from dfdetect.serve.settings import ServeSettings

SCORER = "FaceScorer"
INGRESS = "Ingress"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServeError(DfdetectError):
    """Ray could not be reached, or the service did not come up."""


class ReplicasFailed(ServeError):
    """The replicas could not start: the model or face detector did not load."""


@serve.ingress()
class Ingress:
    """One replica of the HTTP service: the same app as ``dfdetect serve``, its jobs in the
    ledger ``ledger`` (uploads kept at ``data_url`` when given) and its faces scored by the
    scorer deployment behind ``scorer``."""

    def __init__(
        self, settings: ServeSettings, ledger: str, lease_s: float, scorer, data_url: str | None
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.lease_s = lease_s
        self.scorer = scorer
        self.data_url = data_url

    def __serve_build_asgi_app__(self):
        from dfdetect.serve.app import create_app
        from dfdetect.serve.service import SharedState

        handle = self.scorer
        data = RemoteData(self.data_url) if self.data_url is not None else None
        shared = SharedState(
            open_store=lambda: LedgerStore(self.ledger, self.data_url),
            scorer=lambda predictor: RemoteScorer(handle, predictor),
            lease_s=self.lease_s,
            holder=ray.get_runtime_context().get_actor_name(),  # the replica's actor
            media=(lambda m: data.fetch(m, self.settings.uploads_dir)) if data else None,
        )
        return create_app(self.settings, shared=shared)


def build_application(
    settings: ServeSettings, options: ReplicaOptions, data_url: str | None = None
):
    """The Serve application (the ledger is started here: it must exist before replicas);
    with ``data_url``, jobs and uploads live there and ``settings.data_dir`` is each node's
    local staging folder."""
    settings = replace(settings, data_dir=settings.data_dir.resolve())
    ledger = start_ledger(settings.database, data_url)
    layout = options.deployment()
    scorer = serve.deployment(FaceScorer).options(name=SCORER, **layout).bind(settings)
    ingress = serve.deployment(Ingress).options(name=INGRESS, **layout)
    return ingress.bind(settings, ledger, options.lease_s, scorer, data_url)


def app_builder(args: dict):
    """The application for a Ray Serve config file (``import_path:
    dfdetect.serve.cluster.deploy:app_builder``, as a KubeRay ``RayService`` names it):
    ``args`` holds :class:`ServeSettings` fields and the replica fields of
    :class:`ReplicaOptions` (``replicas``, ``min_replicas``, ``max_replicas``, ``cpus``,
    ``gpus``, ``lease_s``, ``target_ongoing_requests``); the config sets host and port."""
    layout = {f.name for f in fields(ReplicaOptions)} - {"address", "host", "port"}
    options = ReplicaOptions(**{k: v for k, v in args.items() if k in layout})
    settings = {k: v for k, v in args.items() if k not in layout}
    data_url = None
    if "data_dir" in settings:
        if is_url(str(settings["data_dir"])):
            data_url = str(settings["data_dir"])
            settings["data_dir"] = staging_dir(data_url)
        settings["data_dir"] = Path(settings["data_dir"])
    return build_application(ServeSettings(**settings), options, data_url)


def start(settings: ServeSettings, options: ReplicaOptions, data_url: str | None = None) -> str:
    """Connect to (or start) Ray, deploy the service (its jobs and uploads at ``data_url``
    when given) and wait for its model; returns its URL. Raises :class:`ServeError` when Ray
    cannot be reached or the model does not load."""
    try:
        if not ray.is_initialized():
            ray.init(address=options.address, namespace=APP_NAME, logging_level="WARNING")
        serve.start(http_options={"host": options.host, "port": options.port})
        app = build_application(settings, options, data_url)
    except (ConnectionError, RuntimeError) as err:
        raise ServeError(f"Ray: {err}") from err
    try:
        serve.run(app, name=APP_NAME, route_prefix="/")
    except RuntimeError as err:
        raise ReplicasFailed(f"the replicas did not start: {err}") from err
    url = f"http://{_connect_host(options.host)}:{options.port}"
    wait_ready(url)
    return url


def wait_ready(url: str, timeout_s: float = 600.0) -> None:
    """Return once ``url``/readyz answers 200; raise :class:`ServeError` if the model failed
    to load or nothing is ready within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with _DIRECT.open(f"{url}/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as err:
            body = err.read().decode(errors="replace")
            if '"failed"' in body:
                raise ReplicasFailed(f"the model failed to load: {body}") from None
        except OSError:
            pass
        time.sleep(0.5)
    raise ServeError(f"the service was not ready after {timeout_s:g} s")


def stop() -> None:
    """Delete the application and disconnect (a local Ray stops; on a cluster, the ledger
    and its store stay)."""
    serve.delete(APP_NAME)
    ray.shutdown()


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host
