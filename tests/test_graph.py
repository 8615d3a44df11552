"""`specc graph`: the box tree, the self-contained page in a real Chromium, SVG without Graphviz."""
import json
import re
import xml.etree.ElementTree as ET

import pytest

import specc
from browser import Browser, find_chromium
from hostile_text import as_label, write_hostile
from conftest import SPECS, run_cli, run_main
from specc.tools.viewer import html, model, svg


@pytest.fixture(scope="module")
def resnet50():
    return model.build(specc.load(SPECS / "resnet.net", "resnet50").graph)


def test_blocks_become_groups(resnet50):
    by_id = {b.id: b for b in resnet50.boxes}
    # torchvision's ResNet-50: four stages of 3, 4, 6 and 3 bottleneck units
    assert [b.id for b in resnet50.top_groups()] == ["g:layer1", "g:layer2", "g:layer3", "g:layer4"]
    for stage, units in zip(range(1, 5), (3, 4, 6, 3)):
        inside = [b.id for b in resnet50.boxes if b.parent == f"g:layer{stage}"]
        assert inside == [f"g:layer{stage}.{i}" for i in range(units)]
    unit = [b.label for b in resnet50.boxes if b.parent == "g:layer1.0"]
    assert unit[:3] == ["conv1", "bn1", "relu"] and "layer1.0.downsample" in unit
    assert by_id["layer1.0.conv1"].params == 64 * 64  # 1x1 conv, 64 -> 64, no bias
    assert by_id["layer1.0.conv1"].line == 25 and by_id["layer1.0.conv1"].chain[0][0] == \
        "block 'bottleneck'"
    assert sum(b.params for b in resnet50.boxes if b.parent is None) == 25_557_032
    assert sum(b.macs for b in resnet50.boxes if b.parent is None) == 4_089_184_256
    assert by_id["g:layer4"].shape == "f32[N, 2048, 7, 7]"


def test_the_page_is_self_contained(resnet50):
    page = html.render(resnet50)
    assert "dagre" in page and 'id="graph-data"' in page
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page)
    assert urls == []  # no script, style sheet, font or image from anywhere
    assert "@import" not in page and "url(http" not in page
    data = json.loads(re.search(r'id="graph-data" type="application/json">(.*?)</script>',
                                page, re.S).group(1))
    assert data["network"] == "resnet50" and len(data["boxes"]) == len(resnet50.boxes)


def test_spec_text_cannot_break_out_of_the_page(tmp_path):
    spec = tmp_path / "x.net"
    spec.write_text('specc 1\nnetwork n {\n    input x: f32[N, 4]\n    output y = linear(x, 2)'
                    '  # </script><script>alert(1)</script> __DAGRE__\n}\n')
    page = html.render(model.build(specc.load(spec).graph))
    assert page.count("</script>") == 3  # data, dagre, viewer
    assert "__DAGRE__" in page.split('id="graph-data"')[1].split("</script>")[0]


CHROMIUM = find_chromium()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install -y chromium; "
                                             ".ci/run installs it)")
def test_the_page_in_headless_chromium(tmp_path):
    out = tmp_path / "resnet50.html"
    r = run_main("graph", "specs/resnet.net:resnet50", "-o", out)
    assert r.returncode == 0, r.stderr
    browser = Browser(CHROMIUM)
    try:
        browser.open(out.as_uri())
        browser.eval("new Promise(r => setTimeout(r, 50))")
        groups = browser.eval("[...document.querySelectorAll('#scene [data-kind=group]')]"
                              ".map(e => e.dataset.id)")
        assert groups == ["g:layer1", "g:layer2", "g:layer3", "g:layer4"]
        assert browser.eval("document.querySelectorAll('#scene .node').length") == 9
        browser.click('[data-id="g:layer1"]')
        assert browser.eval("document.querySelectorAll('#scene .cluster').length") == 1
        units = browser.eval("[...document.querySelectorAll('#scene [data-kind=group]')]"
                             ".map(e => e.dataset.id).filter(i => i.startsWith('g:layer1.'))")
        assert units == ["g:layer1.0", "g:layer1.1", "g:layer1.2"]
        browser.click('[data-id="g:layer1.0"]')
        assert browser.eval("!!document.querySelector('[data-id=\"layer1.0.conv2\"]')")
        browser.click('[data-id="layer1.0.conv2"]')
        details = browser.eval("document.getElementById('details').innerText")
        assert "specs/resnet.net:27" in details and "resnet_stages(image, depths, unit" in details
        assert "f32[N, 64, 56, 56]" in details and "36,864" in details  # 64*64*3*3
        browser.click("#scene .cluster .head")  # close layer1 again
        assert browser.eval("document.querySelectorAll('#scene .cluster').length") == 0
        assert browser.eval("document.getElementById('errors').textContent") == ""
        assert browser.problems() == []
        assert browser.requests() == [out.as_uri()]  # nothing fetched but the page itself
    finally:
        browser.close()


def test_svg_without_graphviz(tmp_path):
    out = tmp_path / "g.svg"
    r = run_cli("graph", "specs/googlenet.net:googlenet", "-o", out, env={"PATH": "/nonexistent"})
    assert r.returncode == 0, r.stderr
    root = ET.parse(out).getroot()
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "inception3a (20 ops)" in texts and "inception5b (20 ops)" in texts
    boxes = [g for g in root.iter("{http://www.w3.org/2000/svg}g")]
    drawn, edges = svg.visible(model.build(specc.load(SPECS / "googlenet.net", "googlenet")
                                           .graph), 0)
    assert len(boxes) == len(drawn)
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) == len(edges) + 1  # + marker
    assert float(root.get("width")) < 1200  # blocks closed: no 7,835-pixel strip


def test_dot_stays_and_bad_suffixes_are_refused(tmp_path):
    r = run_main("graph", "specs/lenet5.net")
    assert r.returncode == 0 and r.stdout.startswith('digraph "lenet5"')
    r = run_main("graph", "specs/lenet5.net", "-o", tmp_path / "x.png")
    assert r.returncode != 0 and "unknown picture format '.png'" in r.stderr
    assert not list(tmp_path.iterdir())


HOSTILE = "<!--<script> </script><script>alert(1)</script> & &amp; \u2028 \u2029 ]]> ${x} `"


def _hostile_page(tmp_path, monkeypatch) -> tuple[object, str]:
    """A spec whose comments, docstring, reference strings, file and folder names carry text
    that would end or re-open the page's script elements; the page it gives."""
    monkeypatch.chdir(tmp_path)
    path = write_hostile(tmp_path, HOSTILE, HOSTILE, HOSTILE, HOSTILE, "<!--<script>", HOSTILE,
                         HOSTILE)
    m = model.build(specc.load(path.relative_to(tmp_path)).graph)
    return m, html.render(m)


def test_hostile_text_stays_inside_the_page_data(tmp_path, monkeypatch):
    m, page = _hostile_page(tmp_path, monkeypatch)
    data_text = re.search(r'id="graph-data" type="application/json">(.*?)</script>', page,
                          re.S).group(1)
    assert not set(data_text) & set("<>&\u2028\u2029")  # escaped, every one
    data = json.loads(data_text)
    assert data["doc"] == m.doc and "<!--<script>" in data["spec"]
    assert [b["code"] for b in data["boxes"]] == [b.code for b in m.boxes]
    assert page.count("</script>") == 3 and page.count("<script") == 3


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install -y chromium; "
                                             ".ci/run installs it)")
def test_hostile_text_renders_as_text_in_chromium(tmp_path, monkeypatch):
    m, page = _hostile_page(tmp_path, monkeypatch)
    out = tmp_path / "page.html"
    out.write_text(page, encoding="utf-8")
    browser = Browser(CHROMIUM)
    try:
        shown = render_in(browser, out)
        assert shown["doc"] == m.doc and shown["reference"] == [v for _, v in m.reference]
        assert shown["totals"].endswith(m.spec) and "<!--<script>" in shown["totals"]
        label = as_label(HOSTILE)
        assert "<!--<script>" in label and label in [b.id for b in m.boxes]
        browser.click(f'[data-id="{label}"]')
        details = browser.eval("[...document.querySelectorAll('#details h2, #details .spec-code')]"
                               ".map(e => e.textContent)")
        assert details == [label, next(b.code for b in m.boxes if b.id == label)]
        assert HOSTILE in details[1]
        assert browser.problems() == []
    finally:
        browser.close()


def render_in(browser, path) -> dict:
    """Open a graph page; assert it rendered once without errors; what it shows as text."""
    browser.events.clear()
    browser.open(path.as_uri())
    state = browser.eval("({rendered: document.body.dataset.rendered || '', errors: "
                         "document.getElementById('errors').textContent, doc: "
                         "(document.getElementById('doc') || {}).textContent, reference: "
                         "[...document.querySelectorAll('#reference td:last-child')]"
                         ".map(td => td.textContent), totals: "
                         "document.getElementById('totals').textContent, boxes: "
                         "document.querySelectorAll('#scene .node').length})")
    assert state["rendered"] == "1" and state["errors"] == "" and state["boxes"] >= 2, state
    assert browser.problems() == []
    return state
