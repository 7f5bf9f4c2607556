"""`archspec anchors`: counts per level, the picture, k-means from a CSV, and located errors."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

YOLOV2 = str(ROOT / "specs/yolo/yolov2.yaml")
BOXES = str(ROOT / "specs/yolo/boxes_example.csv")


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, capture_output=True, text=True)


def test_yolov2_anchors_json_and_picture(tmp_path):
    result = run("anchors", YOLOV2, "--json", "-o", str(tmp_path / "a.png"))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    (level,) = document["levels"]
    assert level["grid"] == [13, 13] and level["k"] == 5 and document["total"] == 13 * 13 * 5 == 845
    assert level["boxes"][0] == [round(1.3221 * 32, 4), round(1.73145 * 32, 4)]
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # another input changes the grid: 320 / 32
    assert json.loads(run("anchors", YOLOV2, "--json", "--input", "320").stdout)["total"] == 10 * 10 * 5


def test_input_whose_grid_differs_is_located(tmp_path):
    result = run("anchors", YOLOV2, "--input", "300", "-o", str(tmp_path / "a.png"))
    assert result.returncode == 1
    assert "yolov2.yaml:" in result.stderr and "10x10 grid" in result.stderr and "is 9x9" in result.stderr
    assert not (tmp_path / "a.png").exists()


def test_kmeans_on_the_shipped_boxes():
    result = run("anchors", "--kmeans", BOXES, "-k", "5", "--json")
    document = json.loads(result.stdout)
    assert document["boxes"] == 297 and len(document["anchors"]) == 5
    areas = [w * h for w, h in document["anchors"]]
    assert areas == sorted(areas) and 0.5 < document["mean_iou"] <= 1
    assert "anchors: [[" in run("anchors", "--kmeans", BOXES, "-k", "3").stdout


@pytest.mark.parametrize("rows, message", [
    ("width,height\n10,20\nten,20\n", "boxes.csv:3:1: error: the row's width, height are not all numbers"),
    ("width,height\n10,20\n0,20\n", "boxes.csv:3:1: error: a box needs a positive, finite width and height"),
    ("x1,y1,x2,y2\n0,0,10,10\n5,5\n", "boxes.csv:3:1: error: the row has 2 columns"),
    ("size\n10\n", "boxes.csv:1:1: error: the header names size"),
    ("width,height\n10,20\n30,40\n", "-k is 5, but the file has 2 boxes"),
])
def test_bad_boxes_files_are_located(tmp_path, rows, message):
    (tmp_path / "boxes.csv").write_text(rows)
    result = run("anchors", "--kmeans", "boxes.csv", "-k", "5", cwd=tmp_path)
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_kmeans_recovers_planted_clusters():
    from archspec.detection.kmeans import cluster, size_iou

    sizes = [(10 + d, 20 - d) for d in (0, 0.5, 1)] + [(80 + d, 40) for d in (0, 2, 4)]
    result = cluster(sizes, 2)
    assert result.anchors == [(10.5, 19.5), (82.0, 40.0)]
    assert result.mean_iou == pytest.approx(sum(max(size_iou(s, a) for a in result.anchors) for s in sizes) / 6)


@pytest.mark.parametrize("args", [["anchors", YOLOV2, "-o", "{tmp}/a.png"], ["anchors", "--kmeans", BOXES],
                                  ["build", str(ROOT / "specs/ssd/ssd300_vgg16.yaml"), "-o", "{tmp}/ssd.py"],
                                  ["validate", YOLOV2]])
def test_detection_commands_do_not_import_torch(args, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code = ("import sys\nfrom cli.main import app\n"
            f"try:\n    app({args!r})\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
            "print('torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stdout + result.stderr


def test_a_spec_without_detect_is_refused():
    result = run("anchors", str(ROOT / "specs/resnet/resnet18.yaml"))
    assert result.returncode == 1 and "'resnet18' is not a detector: it has no 'detect' section" in result.stderr
    assert run("anchors").returncode == 2  # neither a spec nor --kmeans
