"""The service against hostile clients and faults, on a real ``dfdetect serve`` process: a burst
of concurrent images, DELETE of a running job, routing errors, /docs with no internet, slow
headers, clients hanging up mid-upload, forms with two files, malformed requests, listing jobs
(and, in-process, the wait-queue bound and job expiry)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from dfdetect.media.synthetic import face_frames, write_video
from dfdetect.serve.jobs import JobStore
from dfdetect.serve.problems import Problem
from dfdetect.serve.process import ServerProcess
from dfdetect.serve.service import Service
from dfdetect.serve.settings import ServeSettings
from test_scan_media import load_crop

pytestmark = pytest.mark.slow

LONG_FRAMES = 240  # a video job long enough to be deleted while it runs


@pytest.fixture(scope="module")
def media(sample_faces, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    face = load_crop(sample_faces["real"][0])
    (still,) = face_frames([face], 1, face_width=110)
    Image.fromarray(still).save(root / "face.png")
    write_video(root / "long.mp4", face_frames([face], LONG_FRAMES, step=(0.5, 0.0)), fps=25)
    return {"face.png": root / "face.png", "long.mp4": root / "long.mp4"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    args = ["--model", "tiny-random", "--frames", str(LONG_FRAMES), "--header-timeout", "3"]
    args += ["--queue-wait", "600", "--request-timeout", "600", "--no-heatmaps"]
    srv = ServerProcess(args, tmp_path_factory.mktemp("serve"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=600) as c:
        yield c


def _post(client: httpx.Client, route: str, path: Path) -> httpx.Response:
    with path.open("rb") as fh:
        return client.post(route, files={"file": (path.name, fh)})


def _wait(predicate, timeout_s: float = 300, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout_s} s")


def test_forty_concurrent_images_are_all_answered(server, media):
    data = media["face.png"].read_bytes()
    codes: list[int] = []

    def send() -> None:
        with httpx.Client(base_url=server.url, timeout=600) as c:
            r = c.post("/v1/images", files={"file": ("face.png", data)})
            codes.append(r.status_code)

    threads = [threading.Thread(target=send) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 40  # 8 analysed at a time, the rest waited their turn


def test_delete_stops_a_running_job_between_frames(server, client, media):
    job = _post(client, "/v1/jobs", media["long.mp4"]).json()
    url = f"/v1/jobs/{job['id']}"
    _wait(lambda: client.get(url).json()["status"] == "running", what="job running")
    assert client.delete(url).status_code == 204
    line = _wait(
        lambda: re.search(rf"job {job['id']} cancelled.*", server.log()), what="cancel in the log"
    )
    assert "deleted while running" in line.group(0)
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/result").status_code == 404
    uploads = Path(server.data_dir) / "uploads"
    _wait(lambda: not any(uploads.iterdir()), what="upload removed")
    after = _post(client, "/v1/jobs", media["face.png"]).json()  # the worker is free again
    done = _wait(lambda: client.get(f"/v1/jobs/{after['id']}").json()["status"] == "done")
    assert done and "Traceback" not in server.log()


def test_routing_errors_have_the_documented_shape(client):
    for method, path, status, code in [
        ("GET", "/no/such/route", 404, "not_found"),
        ("GET", "/static/missing.js", 404, "not_found"),
        ("PUT", "/v1/images", 405, "method_not_allowed"),
        ("DELETE", "/healthz", 405, "method_not_allowed"),
        ("GET", "/v1/jobs?limit=0", 422, "invalid_request"),
    ]:
        answer = client.request(method, path)
        assert answer.status_code == status, path
        body = answer.json()
        assert set(body) == {"error"} and body["error"]["code"] == code, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "GET" in client.put("/v1/info").headers["allow"]


def test_docs_page_loads_only_local_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/") for u in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_docs_page_renders_in_a_browser_without_internet(server, browser):
    page = browser.new_page()
    outside: list[str] = []

    def only_loopback(route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.goto(f"{server.url}/docs")
    page.wait_for_selector(".opblock", timeout=60_000)  # the operations are rendered
    paths = page.eval_on_selector_all(
        ".opblock-summary-path", "nodes => nodes.map(n => n.dataset.path)"
    )
    assert {"/v1/images", "/v1/jobs", "/v1/jobs/{job_id}"} <= set(paths)
    assert outside == []
    page.close()


def test_slow_headers_are_cut_off(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for k in range(120):  # one header line every 0.25 s: 30 s in all, the limit is 3 s
            try:
                sock.sendall(f"X-Slow-{k}: 1\r\n".encode())
            except OSError:  # reset or broken pipe: the server hung up
                closed = True
                break
            sock.settimeout(0.25)
            try:
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed, "the server kept a connection whose headers never ended"
    with httpx.Client(base_url=server.url) as c:  # a normal client is unaffected
        assert c.get("/healthz").status_code == 200


def _posts_counted(server, route: str, status: int) -> float:
    """``dfdetect_http_requests_total`` of POST ``route`` answered ``status``, from /metrics."""
    text = httpx.get(f"{server.url}/metrics").text
    want = {"route": route, "method": "POST", "status": str(status)}
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "dfdetect_http_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels == want
    )


def test_a_client_hanging_up_mid_upload_is_one_log_line_and_a_499(server):
    before = {status: _posts_counted(server, "/v1/images", status) for status in (499, 500)}
    uploads = Path(server.data_dir) / "uploads"
    uploads.mkdir(exist_ok=True)
    earlier = set(uploads.iterdir())
    head = (
        b"POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
    )
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + part + b"\x89PNG\r\n\x1a\n" + bytes(4096))
        _wait(lambda: set(uploads.iterdir()) - earlier, 60, "the upload being written")
    # the socket is closed with 996 kB still to come
    _wait(
        lambda: _posts_counted(server, "/v1/images", 499) == before[499] + 1,
        60,
        "the hang-up counted as 499",
    )
    assert _posts_counted(server, "/v1/images", 500) == before[500]
    log = server.log()
    assert re.search(r"127\.0\.0\.1:\d+ closed the connection during POST /v1/images", log)
    assert "Traceback" not in log and "ClientDisconnect" not in log
    _wait(lambda: set(uploads.iterdir()) <= earlier, 60, "the partial upload removed")


def test_a_form_with_two_file_parts_is_refused(client, media):
    data = media["face.png"].read_bytes()
    for route in ("/v1/images", "/v1/jobs"):
        answer = client.post(route, files=[("file", ("a.png", data)), ("file", ("b.png", data))])
        assert answer.status_code == 400, route
        assert answer.json()["error"]["code"] == "several_files"
        assert "more than one 'file' part" in answer.json()["error"]["message"]
    single = client.post("/v1/images", files=[("file", ("a.png", data)), ("note", "x")])
    assert single.status_code == 200  # one file and another field: fine


def test_a_malformed_request_is_answered_in_the_error_shape(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"NOT AN HTTP REQUEST\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):  # the server closes the connection after answering
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer
    assert b"content-type: application/json" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "bad_request" and error["message"]
    with httpx.Client(base_url=server.url) as c:  # the server carries on
        assert c.get("/healthz").status_code == 200


def test_jobs_are_listed_with_paging_and_a_status_filter(client, media):
    ids = [_post(client, "/v1/jobs", media["face.png"]).json()["id"] for _ in range(3)]
    for job_id in ids:
        _wait(lambda job_id=job_id: client.get(f"/v1/jobs/{job_id}").json()["status"] == "done")
    first = client.get("/v1/jobs", params={"status": "done", "limit": 2}).json()
    assert first["limit"] == 2 and first["offset"] == 0 and len(first["jobs"]) == 2
    assert first["total"] >= 3 and first["next"] is not None
    listed = [j["id"] for j in first["jobs"]]
    page = first
    while page["next"] is not None:
        page = client.get(page["next"]).json()
        listed += [j["id"] for j in page["jobs"]]
    assert len(listed) == first["total"] == len(set(listed))
    assert listed[:3] == ids[::-1]  # newest first
    assert all(j["status"] == "done" and "links" in j for j in first["jobs"])
    queued = client.get("/v1/jobs", params={"status": "queued"}).json()
    assert queued["jobs"] == [] and queued["total"] == 0 and queued["next"] is None
    assert client.get("/v1/jobs", params={"status": "lost"}).status_code == 422


def test_a_burst_waits_in_a_bounded_queue_then_gets_429(tmp_path):
    """In-process: 1 slot and 1 waiting place; a third request is refused at once, and the
    waiting one gets the slot when it is released from another thread."""
    settings = ServeSettings(
        data_dir=tmp_path, max_inflight_images=1, max_waiting_images=1, queue_wait_s=60
    )
    service = Service(settings)

    async def burst() -> list[str]:
        events: list[str] = []
        first = await service.image_slot()
        waiter = asyncio.create_task(service.image_slot())
        await asyncio.sleep(0)  # the waiter queues
        with pytest.raises(Problem) as refused:
            await service.image_slot()
        events.append(f"third {refused.value.status}")
        threading.Thread(target=first.release).start()  # freed by a worker thread
        second = await asyncio.wait_for(waiter, 60)
        events.append("second admitted")
        second.release()
        second.release()  # twice is harmless
        (await service.image_slot()).release()
        return events

    outcome: list[list[str]] = []  # in a thread: a browser test may hold this thread's loop
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(burst())))
    runner.start()
    runner.join()
    assert outcome == [["third 429", "second admitted"]]


def test_finished_jobs_expire_after_their_ttl(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    for k in range(3):
        (tmp_path / f"m{k}").write_bytes(b"x")
        store.submit(f"f{k}", tmp_path / f"m{k}", 1, False, 10)
    old, recent = store.claim(), store.claim()
    store.finish(old.id, {"ok": True})
    store.fail(recent.id, "corrupt", "bad")
    with store._lock:  # as if it had finished two hours ago
        store._db.execute("UPDATE jobs SET finished = finished - 7200 WHERE id = ?", (old.id,))
    assert store.expire(3600) == 1
    assert store.get(old.id) is None and store.get(recent.id) is not None
    assert store.expire(0) == 1  # the failed one too, once its time is up
    waiting, total = store.list_jobs()
    assert total == 1 and waiting[0].status == "queued"  # queued jobs never expire
    store.close()
