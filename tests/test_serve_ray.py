"""``dfdetect serve --engine ray`` on a real local Ray (2 CPUs, started once for the module),
through Ray Serve's HTTP proxy: two replicas of the ingress and of the face scorer, answers
equal to the single-process service's, jobs shared by the replicas, a replica killed mid-job,
a running job cancelled through another replica."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("ray.serve")

import ray
from ray import serve

from dfdetect.media.synthetic import write_video
from dfdetect.serve.analyzer import Analyzer
from dfdetect.serve.cluster.deploy import start
from dfdetect.serve.cluster.ledger import LedgerStore, ledger_name, start_ledger
from dfdetect.serve.cluster.options import ReplicaOptions
from dfdetect.serve.process import free_port
from dfdetect.serve.settings import ServeSettings
from test_serve_api import FACE_BOX, _paste_face

pytestmark = pytest.mark.slow

LEASE_S = 2.0  # a killed replica's job runs again this long after its last heartbeat
FRAMES = 12
TIMING = {"elapsed_s", "seconds", "time_s"}  # fields that differ from run to run


@pytest.fixture(scope="module")
def media(sample_faces, tmp_path_factory) -> dict[str, Path]:
    """Two face images, a faceless one, a short clip and a long one (slow enough to be caught
    running)."""
    root = tmp_path_factory.mktemp("media")
    faces = [
        np.asarray(Image.open(path).convert("RGB"))
        for path in (sample_faces["real"][0], sample_faces["fake"][0])
    ]
    files = {}
    for i, face in enumerate(faces):
        files[f"face{i}.png"] = root / f"face{i}.png"
        Image.fromarray(_paste_face(face, (480, 360), FACE_BOX)).save(files[f"face{i}.png"])
    files["noise.png"] = root / "noise.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 40, (120, 160, 3), dtype=np.uint8)).save(files["noise.png"])
    for name, n, size in (("short.mp4", 3, (320, 240)), ("long.mp4", FRAMES, (960, 720))):
        frames = [
            _paste_face(
                faces[i % 2], size, (80 + 4 * i, 40, 80 + 4 * i + size[1] // 2, 40 + size[1] // 2)
            )
            for i in range(n)
        ]
        files[name] = root / name
        write_video(files[name], frames, fps=10)
    return files


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> ServeSettings:
    return ServeSettings(
        model="tiny-random",
        data_dir=tmp_path_factory.mktemp("store").resolve(),
        frames=FRAMES,
        heatmaps=False,
        max_inflight_images=4,
    )


@pytest.fixture(scope="module")
def service(settings):
    """The service on a local Ray: 2 replicas of each deployment, half a CPU each."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        options = ReplicaOptions(replicas=2, cpus=0.5, lease_s=LEASE_S, port=free_port())
        yield start(settings, options)
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def client(service):
    with httpx.Client(base_url=service, timeout=120, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def reference(settings, media) -> dict[str, dict]:
    """What the single-process service answers for each file (its Analyzer, in this process)."""
    analyzer = Analyzer.load(replace(settings, data_dir=settings.data_dir / "reference"))
    try:
        return {name: analyzer.analyze(path, name, False) for name, path in media.items()}
    finally:
        analyzer.close()


def _stable(result: dict) -> dict:
    return {key: value for key, value in result.items() if key not in TIMING}


def _same(got: dict, want: dict) -> None:
    assert _stable(got).keys() == _stable(want).keys()
    assert repr(_stable(got)) == repr(_stable(want)) or _close(got, want)


def _close(got, want) -> bool:
    """Equal up to float rounding (faces batched with other requests' faces)."""
    if isinstance(want, dict):
        keys = want.keys() - TIMING
        return keys == got.keys() - TIMING and all(_close(got[k], want[k]) for k in keys)
    if isinstance(want, list):
        return len(got) == len(want) and all(_close(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, float):
        return got == pytest.approx(want, abs=1e-5)
    return got == want


def _post(client: httpx.Client, route: str, path: Path) -> httpx.Response:
    with path.open("rb") as f:
        return client.post(route, files={"file": (path.name, f)})


def _wait_job(client: httpx.Client, job_id: str, until=("done", "failed"), timeout_s=120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get(f"/v1/jobs/{job_id}").json()
        if status["status"] in until:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {status['status']} after {timeout_s} s")


def _ledger(settings: ServeSettings) -> LedgerStore:
    return LedgerStore(ledger_name(settings.database))


def test_readiness_and_metrics_answer_through_the_proxy(client):
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "dfdetect_files_analyzed" in metrics.text
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/v1/images", "/v1/jobs"}


def test_concurrent_images_are_answered_like_the_single_process_service(client, media, reference):
    names = ["face0.png", "face1.png", "noise.png"] * 4
    answers: dict[int, httpx.Response] = {}

    def ask(i: int, name: str) -> None:
        answers[i] = _post(client, "/v1/images", media[name])

    threads = [threading.Thread(target=ask, args=(i, n)) for i, n in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert sorted(answers) == list(range(len(names)))
    for i, name in enumerate(names):
        assert answers[i].status_code == 200, answers[i].text
        _same(answers[i].json(), reference[name])
    assert reference["face0.png"]["status"] != "no_face"


def test_errors_keep_their_shape_through_the_proxy(client, media):
    answer = _post(client, "/v1/images", media["short.mp4"])
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "video_upload"
    assert client.get("/v1/jobs/" + "0" * 32).status_code == 404


def test_jobs_polled_through_both_replicas_finish_like_single_process(
    client, media, reference, settings
):
    ids = [_post(client, "/v1/jobs", media["short.mp4"]).json()["id"] for _ in range(3)]
    for job_id in ids:
        assert _wait_job(client, job_id)["status"] == "done"
        for _ in range(6):  # polled again and again: any replica knows the job
            assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "done"
        _same(client.get(f"/v1/jobs/{job_id}/result").json(), reference["short.mp4"])
    listed = {job["id"] for job in client.get("/v1/jobs", params={"limit": 100}).json()["jobs"]}
    assert set(ids) <= listed
    assert _ledger(settings).get(ids[0]).attempts == 1


def _running(client, settings, job_id: str):
    _wait_job(client, job_id, until=("running", "done", "failed"))
    job = _ledger(settings).get(job_id)
    assert job.status == "running", "the job finished before the test could catch it running"
    return job


def test_a_replica_killed_mid_job_does_not_lose_it(client, media, reference, settings):
    job_id = _post(client, "/v1/jobs", media["long.mp4"]).json()["id"]
    running = _running(client, settings, job_id)
    replica = running.owner.rsplit(":", 1)[0]  # the lease holder: the replica's actor name
    assert "Ingress" in replica
    ray.kill(ray.get_actor(replica, namespace="serve"), no_restart=False)
    assert _wait_job(client, job_id, timeout_s=180)["status"] == "done"
    finished = _ledger(settings).get(job_id)
    assert finished.attempts == 2  # claimed again once the dead replica's lease ran out
    assert finished.owner != running.owner  # the result is the second claimant's, written once
    _same(client.get(f"/v1/jobs/{job_id}/result").json(), reference["long.mp4"])


def _cancelled(text: str) -> float:
    found = re.search(r'^dfdetect_files_analyzed_total\{outcome="cancelled"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_cancel_through_the_proxy_stops_the_running_job(client, media, settings):
    job_id = _post(client, "/v1/jobs", media["long.mp4"]).json()["id"]
    _running(client, settings, job_id)
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert client.get(f"/v1/jobs/{job_id}").status_code == 404
    deadline = time.monotonic() + 60
    seen = 0.0
    while seen < 1 and time.monotonic() < deadline:  # each poll lands on either replica
        seen = max(seen, _cancelled(client.get("/metrics").text))
        time.sleep(0.2)
    assert seen == 1  # the replica running it stopped it, at its next frame


def test_a_ledger_kept_at_a_url_restarts_from_it_without_losing_jobs(service, tmp_path):
    url = (tmp_path / "bucket").as_uri() + "/jobs"
    database = tmp_path / "node" / "jobs.sqlite3"
    name = start_ledger(database, url)
    store = LedgerStore(name, url)
    upload = tmp_path / "uploads" / "0123abcd"
    upload.parent.mkdir()
    upload.write_bytes(b"clip")
    job = store.submit("clip.mp4", upload, 4, False, 5)
    remote = tmp_path / "bucket" / "jobs"
    assert job.media_path == f"{url}/uploads/0123abcd" and not upload.exists()
    assert (remote / "uploads" / "0123abcd").read_bytes() == b"clip"
    database.unlink()  # the ledger's node and its disk are lost: only the URL keeps the jobs
    ray.kill(ray.get_actor(name, namespace="dfdetect"), no_restart=False)
    assert store.get(job.id) == job  # the restarted ledger restored the database from the URL
    claimed = store.claim("worker", 30.0)
    assert claimed.id == job.id
    assert store.finish(job.id, {"status": "ok"}, "worker")
    assert not (remote / "uploads" / "0123abcd").exists()  # a finished job's upload goes
    ray.kill(ray.get_actor(name, namespace="dfdetect"), no_restart=True)
