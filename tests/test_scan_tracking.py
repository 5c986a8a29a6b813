"""Tracking faces into persons and aggregating verdicts: values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from dfdetect.scan.results import FaceResult
from dfdetect.scan.tracking import box_iou, track_faces
from dfdetect.scan.verdict import file_verdict, frame_results, person_results


def test_box_iou_by_hand():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    # overlap 5x10 = 50, union 100 + 100 - 50 = 150
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])


def test_two_people_keep_their_ids_when_detection_order_swaps():
    left = np.array([100, 100, 200, 200], float)
    right = np.array([500, 100, 600, 200], float)
    step = np.array([10, 0, 10, 0], float)
    frames = [
        np.stack([left, right]),
        np.stack([right + step, left + step]),  # detector lists them the other way round
        np.stack([left + 2 * step]),  # the right person is missed in this frame
        np.stack([right + 3 * step, left + 3 * step]),
    ]
    assert track_faces(frames) == [[0, 1], [1, 0], [0], [1, 0]]


def test_sparse_frames_match_by_centre_distance_and_new_faces_start_new_persons():
    frames = [
        np.array([[100, 100, 200, 200]], float),
        # moved 40 px: IoU = 60*100/(2*10000-6000) = 0.43 >= 0.3 -> same person
        np.array([[140, 100, 240, 200]], float),
        # moved another 80 px: no overlap above 0.3 (IoU 0.11), centre 0.8 box sizes away -> new
        np.array([[220, 100, 320, 200]], float),
    ]
    assert track_faces(frames, iou_min=0.3, dist_max=0.5) == [[0], [0], [1]]
    assert track_faces(frames, iou_min=0.3, dist_max=1.0) == [[0], [0], [0]]


def test_empty_frames_are_kept_in_place():
    frames = [np.zeros((0, 4)), np.array([[0, 0, 50, 50]], float), np.zeros((0, 4))]
    assert track_faces(frames) == [[], [0], []]


def _face(frame: int, person: int, prob: float) -> FaceResult:
    return FaceResult(frame, frame / 10, [0, 0, 1, 1], 0.99, prob, "", person)


def test_person_mean_and_file_max():
    faces = [_face(0, 0, 0.2), _face(1, 0, 0.4), _face(0, 1, 0.9), _face(2, 1, 0.5)]
    persons = person_results(faces, threshold=0.6)
    assert [p.id for p in persons] == [0, 1]
    assert persons[0].prob == pytest.approx(0.3) and persons[0].label == "real"
    assert persons[1].prob == pytest.approx(0.7) and persons[1].label == "fake"
    assert persons[1].max_prob == pytest.approx(0.9)
    assert (persons[1].first_time_s, persons[1].last_time_s) == (0.0, 0.2)
    prob, label = file_verdict(persons, threshold=0.6)
    assert prob == pytest.approx(0.7) and label == "fake"
    assert file_verdict(persons, threshold=0.75)[1] == "real"
    assert file_verdict([], threshold=0.5) is None


def test_frame_rows_take_the_max_and_keep_faceless_frames():
    faces = [_face(0, 0, 0.2), _face(0, 1, 0.9), _face(2, 0, 0.5)]
    rows = frame_results(faces, [(0, 0.0), (1, 0.1), (2, 0.2)])
    assert [(r.index, r.n_faces, r.prob) for r in rows] == [(0, 2, 0.9), (1, 0, None), (2, 1, 0.5)]
