"""The HTTP service as users run it: a real `dfdetect serve` process on loopback, a real HTTP
client, tiny-random, and the shared sample faces pasted into generated images and videos.

Two server processes share one data dir: an intake server that only queues jobs (its queue
fills, then it is SIGKILLed with jobs waiting), and the server every other test talks to,
restarted on the same data dir, which must run the jobs the dead one accepted.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from dfdetect.media.synthetic import paste_face, write_video
from dfdetect.serve.process import ServerProcess

pytestmark = pytest.mark.slow

KEY = "test-key-3f9a"
AUTH = {"X-API-Key": KEY}
FACE_BOX = (130, 60, 350, 280)  # where the sample face is pasted in the test image (x1, y1, x2, y2)
SERVER_ARGS = [
    "--model",
    "tiny-random",
    "--frames",
    "4",
    "--max-upload-mb",
    "1",
    "--upload-timeout",
    "2",
]


def _paste_face(
    face: np.ndarray, size: tuple[int, int], box: tuple[int, int, int, int]
) -> np.ndarray:
    """A grey ``size`` (width, height) canvas with ``face`` filling the square ``box``."""
    canvas = np.full((size[1], size[0], 3), 128, np.uint8)
    x1, y1, x2, y2 = box
    paste_face(canvas, face, scale=(x2 - x1) / face.shape[0], center=((x1 + x2) / 2, (y1 + y2) / 2))
    return canvas


@pytest.fixture(scope="module")
def media(sample_faces, tmp_path_factory) -> dict[str, Path]:
    """Test files: a face image, a face video, a faceless image, a non-media file, a corrupt
    JPEG, and a PNG named like a video."""
    root = tmp_path_factory.mktemp("media")
    face = np.asarray(Image.open(sample_faces["real"][0]).convert("RGB"))
    files = {
        name: root / name
        for name in ("face.png", "clip.mp4", "noise.png", "notes.jpg", "broken.jpg", "still.mp4")
    }
    Image.fromarray(_paste_face(face, (480, 360), FACE_BOX)).save(files["face.png"])
    frames = [_paste_face(face, (320, 240), (80 + 2 * i, 40, 240 + 2 * i, 200)) for i in range(10)]
    write_video(files["clip.mp4"], frames, fps=10)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 40, (120, 160, 3), dtype=np.uint8)).save(files["noise.png"])
    files["notes.jpg"].write_text("just some text, not a picture\n")
    files["broken.jpg"].write_bytes(
        b"\xff\xd8\xff\xe0" + bytes(rng.integers(0, 256, 4000, dtype=np.uint8))
    )
    files["still.mp4"].write_bytes(files["face.png"].read_bytes())
    return files


def _post(
    client: httpx.Client, route: str, path: Path, name: str | None = None, **params
) -> httpx.Response:
    with path.open("rb") as fh:
        return client.post(route, files={"file": (name or path.name, fh)}, params=params)


@pytest.fixture(scope="module")
def before_restart(media, tmp_path_factory) -> dict:
    """Run an intake-only server (no job workers, queue of 2): fill its queue, SIGKILL it.
    Jobs are accepted while the model still loads, so it is killed without waiting for it."""
    data = tmp_path_factory.mktemp("serve-data")
    intake = ServerProcess(
        [*SERVER_ARGS, "--job-workers", "0", "--max-queue", "2"],
        data,
        env={"DFDETECT_API_KEY": KEY},
    )
    intake.start(wait_for_model=False)
    try:
        with httpx.Client(base_url=intake.url, headers=AUTH, timeout=60) as client:
            accepted = [_post(client, "/v1/jobs", media["clip.mp4"]) for _ in range(2)]
            refused = _post(client, "/v1/jobs", media["clip.mp4"])
            not_ready = client.get(f"/v1/jobs/{accepted[0].json()['id']}/result")
    finally:
        intake.kill()
    with sqlite3.connect(data / "jobs.sqlite3") as db:
        rows = dict(db.execute("SELECT id, status FROM jobs").fetchall())
    return {
        "data": data,
        "accepted": accepted,
        "refused": refused,
        "not_ready": not_ready,
        "rows": rows,
    }


@pytest.fixture(scope="module")
def server(before_restart):
    """The service restarted on the intake server's data dir, with one job worker."""
    srv = ServerProcess(
        [*SERVER_ARGS, "--batch-wait", "0.02"],
        before_restart["data"],
        env={"DFDETECT_API_KEY": KEY},
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as c:
        yield c


def _wait_job(client: httpx.Client, job_id: str, timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get(f"/v1/jobs/{job_id}").json()
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {status['status']} after {timeout_s} s")


def _metric(text: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # exposition sorts labels
    pattern = (
        rf"^{re.escape(name)}(?:\{{{re.escape(want)}\}})? (\S+)$"
        if want
        else rf"^{re.escape(name)} (\S+)$"
    )
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


def test_queue_bound_answers_429_and_unfinished_results_409(before_restart):
    accepted, refused = before_restart["accepted"], before_restart["refused"]
    assert [r.status_code for r in accepted] == [202, 202]
    for response in accepted:
        job = response.json()
        assert response.headers["location"] == f"/v1/jobs/{job['id']}" == job["links"]["self"]
        assert (job["status"], job["filename"]) == ("queued", "clip.mp4")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "queue_full"
    assert refused.headers["retry-after"] == "5"
    assert before_restart["not_ready"].status_code == 409
    assert before_restart["not_ready"].json()["error"]["code"] == "not_ready"
    # what the killed server left on disk: exactly the two accepted jobs, still queued
    assert before_restart["rows"] == {r.json()["id"]: "queued" for r in accepted}


def test_restart_runs_the_jobs_a_killed_server_had_queued(client, server, before_restart):
    for response in before_restart["accepted"]:
        job_id = response.json()["id"]
        assert _wait_job(client, job_id)["status"] == "done"
        result = client.get(f"/v1/jobs/{job_id}/result").json()
        assert (result["path"], result["kind"], result["status"]) == ("clip.mp4", "video", "ok")
        assert len(result["frames"]) == 4
    assert not list((server.data_dir / "uploads").iterdir())  # uploads removed once done


def test_health_readiness_and_openapi(server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model": "tiny-random", "threshold": 0.5}
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/v1/images", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result"} <= set(
        spec["paths"]
    )
    body = spec["paths"]["/v1/images"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert "swagger-ui" in httpx.get(f"{server.url}/docs").text


def test_image_is_answered_synchronously_with_boxes_and_heatmaps(client, media):
    response = _post(client, "/v1/images", media["face.png"])
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["path"], result["kind"], result["status"], result["model"]) == (
        "face.png",
        "image",
        "ok",
        "tiny-random",
    )
    assert result["media"] == {"width": 480, "height": 360}
    assert result["sha256"] == hashlib.sha256(media["face.png"].read_bytes()).hexdigest()
    assert len(result["faces"]) == 1
    face = result["faces"][0]
    x1, y1, x2, y2 = face["box"]
    assert (
        FACE_BOX[0] - 20 <= x1 < x2 <= FACE_BOX[2] + 20
        and FACE_BOX[1] - 20 <= y1 < y2 <= FACE_BOX[3] + 20
    )
    assert 0.0 <= face["prob"] <= 1.0
    assert face["label"] == ("fake" if face["prob"] >= result["threshold"] else "real")
    assert result["prob"] == pytest.approx(max(p["prob"] for p in result["persons"]))
    assert result["label"] == result["persons"][0]["label"]
    (heat,) = result["heatmaps"]
    assert heat["person"] == face["person"]
    crop = Image.open(io.BytesIO(base64.b64decode(heat["crop"].split(",", 1)[1])))
    frame = Image.open(io.BytesIO(base64.b64decode(heat["frame"].split(",", 1)[1])))
    assert (crop.format, crop.size, frame.size) == ("JPEG", (256, 256), (480, 360))
    assert str(client.base_url) not in response.text and "uploads" not in response.text

    # the raw body (curl --data-binary) gives the same answer; heatmaps can be turned off
    raw = client.post(
        "/v1/images", content=media["face.png"].read_bytes(), params={"heatmaps": "false"}
    )
    assert raw.status_code == 200
    assert raw.json()["prob"] == pytest.approx(result["prob"], abs=1e-6)
    assert raw.json()["path"] == "upload" and "heatmaps" not in raw.json()


def test_video_job_submit_poll_fetch_delete(client, media):
    submitted = _post(client, "/v1/jobs", media["clip.mp4"], heatmaps="true")
    assert submitted.status_code == 202
    job_id = submitted.json()["id"]
    status = _wait_job(client, job_id)
    assert (
        status["status"] == "done" and status["finished"] >= status["started"] >= status["created"]
    )
    result = client.get(f"/v1/jobs/{job_id}/result").json()
    assert result["media"]["n_frames"] == 10 and (
        result["media"]["width"],
        result["media"]["height"],
    ) == (320, 240)
    assert [f["index"] for f in result["frames"]] == sorted(f["index"] for f in result["frames"])
    assert (
        len(result["faces"]) == 4 and len(result["persons"]) == 1
    )  # one face tracked over 4 frames
    person = result["persons"][0]
    assert person["prob"] == pytest.approx(np.mean([f["prob"] for f in result["faces"]]), abs=1e-6)
    assert person["first_time_s"] < person["last_time_s"]
    assert result["heatmaps"][0]["person"] == person["id"]

    assert client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert client.get(f"/v1/jobs/{job_id}").status_code == 404
    assert client.get(f"/v1/jobs/{job_id}/result").status_code == 404
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 404
    assert client.get("/v1/jobs/../../etc/passwd").status_code == 404


def test_faceless_image_is_a_result_not_an_error(client, media):
    result = _post(client, "/v1/images", media["noise.png"]).json()
    assert (result["status"], result["faces"], result["prob"]) == ("no_face", [], None)
    assert result["error"]["reason"] == "no_face"


def test_content_is_sniffed_not_the_extension(client, media):
    text = _post(client, "/v1/images", media["notes.jpg"])
    assert text.status_code == 415
    assert text.json()["error"]["code"] == "unsupported_media"
    assert (
        "notes.jpg" in text.json()["error"]["message"]
        and "not_media" in text.json()["error"]["message"]
    )
    assert (
        _post(client, "/v1/images", media["still.mp4"]).json()["kind"] == "image"
    )  # a PNG named .mp4
    video = _post(client, "/v1/images", media["clip.mp4"], name="holiday.jpg")
    assert video.status_code == 415 and video.json()["error"]["code"] == "video_upload"
    assert client.post("/v1/images", content=b"").status_code == 400


def test_corrupt_image_names_the_file_and_reason(client, media):
    response = _post(client, "/v1/images", media["broken.jpg"])
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] in ("corrupt", "unreadable", "truncated") and error["message"].startswith(
        "broken.jpg"
    )


def _post_stream(client: httpx.Client, route: str, chunks) -> int | None:
    """POST a body without Content-Length; the status, or None when the server closed the
    connection before the client could read its answer."""
    try:
        return client.post(route, content=chunks).status_code
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None


def _count(server: ServerProcess, route: str, status: int) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    return _metric(
        text, "dfdetect_http_requests_total", route=route, method="POST", status=str(status)
    )


def test_uploads_over_the_limit_are_refused_while_streaming(client, server):
    declared = client.post("/v1/images", content=b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024))
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "too_large"
    assert declared.headers["connection"] == "close"
    refused_before = _count(server, "/v1/jobs", 413)
    sent = 0

    def endless():  # no Content-Length: the server must count while it reads
        nonlocal sent
        while sent < 64 * 1024 * 1024:
            sent += 64 * 1024
            yield b"\x89PNG\r\n\x1a\n" + bytes(64 * 1024 - 8)

    assert _post_stream(client, "/v1/jobs", endless()) in (413, None)
    assert _count(server, "/v1/jobs", 413) == refused_before + 1  # the server answered 413
    assert sent < 16 * 1024 * 1024  # refused long before the client ran out of data
    assert not list((server.data_dir / "uploads").iterdir())  # the partial upload was removed


def test_slow_uploads_time_out(client, server):
    timed_out_before = _count(server, "/v1/images", 408)

    def trickle():  # 2 s upload limit on this server
        yield b"\x89PNG\r\n\x1a\n"
        time.sleep(3)
        yield bytes(1024)

    assert _post_stream(client, "/v1/images", trickle()) in (408, None)
    assert _count(server, "/v1/images", 408) == timed_out_before + 1
    assert not list((server.data_dir / "uploads").iterdir())


def test_api_key_is_required_on_the_api_only(server):
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        missing = anonymous.get("/v1/jobs/" + "0" * 32)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert (
            anonymous.get("/v1/jobs/" + "0" * 32, headers={"X-API-Key": "wrong"}).status_code == 401
        )
        assert anonymous.post("/v1/images", content=b"x").status_code == 401
        bearer = anonymous.get("/v1/jobs/" + "0" * 32, headers={"Authorization": f"Bearer {KEY}"})
        assert bearer.status_code == 404  # past authentication
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/").status_code == 200
        assert anonymous.get("/v1/info").json()["auth_required"] is True
        assert KEY not in anonymous.get("/v1/info").text


def test_per_request_timeout_answers_504_and_the_service_carries_on(client, media):
    late = _post(client, "/v1/images", media["face.png"], timeout="0.001")
    assert late.status_code == 504 and late.json()["error"]["code"] == "timeout"
    assert _post(client, "/v1/images", media["face.png"], heatmaps="false").status_code == 200
    bad = _post(client, "/v1/images", media["face.png"], timeout="-1")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_metrics_count_requests_latency_queue_and_faces(client, media, server):
    before = httpx.get(f"{server.url}/metrics").text
    n = 3
    threads = [
        threading.Thread(
            target=_post,
            args=(client, "/v1/images", media["face.png"]),
            kwargs={"heatmaps": "false"},
        )
        for _ in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    after = httpx.get(f"{server.url}/metrics").text
    ok = {"route": "/v1/images", "method": "POST", "status": "200"}
    assert (
        _metric(after, "dfdetect_http_requests_total", **ok)
        - _metric(before, "dfdetect_http_requests_total", **ok)
        == n
    )
    latency = "dfdetect_http_request_duration_seconds_count"
    assert (
        _metric(after, latency, route="/v1/images") - _metric(before, latency, route="/v1/images")
        >= n
    )
    assert (
        _metric(after, "dfdetect_faces_scored_total")
        - _metric(before, "dfdetect_faces_scored_total")
        == n
    )
    # every face went through the dynamic batcher: n faces in at most n model calls
    calls = _metric(after, "dfdetect_model_batch_faces_count") - _metric(
        before, "dfdetect_model_batch_faces_count"
    )
    assert 1 <= calls <= n
    assert (
        _metric(after, "dfdetect_model_batch_faces_sum")
        - _metric(before, "dfdetect_model_batch_faces_sum")
        == n
    )
    assert "dfdetect_jobs_queued 0.0" in after
    assert _metric(after, "dfdetect_files_analyzed_total", outcome="ok") >= n


@pytest.mark.browser
def test_web_page_uploads_and_shows_verdicts(server, client, browser, media, artifacts_dir):
    expected = _post(client, "/v1/images", media["face.png"]).json()
    page = browser.new_page(viewport={"width": 1100, "height": 1300}, accept_downloads=True)
    try:
        page.goto(server.url)
        page.wait_for_selector("#key-row:not([hidden])")  # the service asks for a key
        page.fill("#api-key", KEY)
        page.set_input_files("#file", str(media["face.png"]))
        verdict = page.wait_for_selector("#verdict.fake, #verdict.real", timeout=60_000)
        text = verdict.inner_text()
        assert text.startswith(expected["label"].upper()) and f"{expected['prob']:.3f}" in text
        boxes = page.locator("#overlay rect")
        assert boxes.count() == 1 and boxes.first.get_attribute("class") == expected["label"]
        assert float(boxes.first.get_attribute("x")) == pytest.approx(
            expected["faces"][0]["box"][0]
        )
        assert page.locator("#persons tbody tr").count() == 1
        assert page.locator("#heatmap-list img").count() == 2
        with page.expect_download() as download:
            page.click("#download")
        downloaded = Path(download.value.path()).read_text()
        assert '"path": "face.png"' in downloaded and str(expected["prob"])[:8] in downloaded
        shot = artifacts_dir / "serve_web_image.png"
        page.screenshot(path=str(shot), full_page=True)
        _assert_has_colour(shot, (220, 38, 38) if expected["label"] == "fake" else (22, 163, 74))

        page.set_input_files("#file", str(media["clip.mp4"]))
        page.wait_for_selector("#timeline-box:not([hidden])", timeout=90_000)
        assert page.locator("#timeline polyline").count() == 1  # one person over time
        assert page.locator("#persons tbody tr").count() == 1
        assert page.locator("#verdict").inner_text().split(":")[0] in ("FAKE", "REAL")
        page.screenshot(path=str(artifacts_dir / "serve_web_video.png"), full_page=True)

        page.set_input_files("#file", str(media["notes.jpg"]))  # the page names what went wrong
        error = page.wait_for_selector("#error:not([hidden])", timeout=30_000).inner_text()
        assert error.startswith("notes.jpg:") and "415 unsupported_media" in error
        assert page.locator("#result").is_hidden()
    finally:
        page.close()


def _assert_has_colour(png: Path, rgb: tuple[int, int, int]) -> None:
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
    close = np.abs(pixels - np.array(rgb)).sum(axis=1) < 30
    assert close.sum() > 2000, f"{png} shows almost no {rgb}"  # the verdict banner at least
