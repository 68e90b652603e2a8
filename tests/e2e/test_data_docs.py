"""The Data Docs of a passing and a failing run open in a real browser (headless Chromium)."""

import shutil
import struct
import subprocess
import zlib
from datetime import date

import pytest

from retrainer.core.clock import window_bounds
from retrainer.data.contracts import BatchRejected
from retrainer.data.extract import extract_batch
from retrainer.data.validate import validate_batch
from tests.conftest import AS_OF, PROJECT_DIR, generate_source

SUITE = PROJECT_DIR / "expectations" / "transactions.json"


def chromium(profile, *args: str) -> str:
    """Run headless Chromium (no network beyond this machine: the page gets only what is on disk)."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed; scripts/test.sh installs it (apt-get install chromium)")
    done = subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",  # let the page's scripts build its tables
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


def screenshot(page_uri: str, png, profile) -> None:
    chromium(profile, f"--screenshot={png}", "--window-size=1280,900", page_uri)


def distinct_colours(png_bytes: bytes, rows: int = 240) -> int:
    """Distinct pixel values in the top `rows` rows of an 8-bit RGB(A) PNG (no Pillow in this env)."""
    assert png_bytes[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png_bytes):
        (length,) = struct.unpack(">I", png_bytes[pos : pos + 4])
        kind, body = png_bytes[pos + 4 : pos + 8], png_bytes[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type = header[:4]
    assert depth == 8 and colour_type in (2, 6), header
    bpp = 4 if colour_type == 6 else 3
    stride = width * bpp
    raw = zlib.decompress(idat)
    previous, colours = bytearray(stride), set()
    for y in range(min(rows, height)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):  # undo the PNG row filter (None, Sub, Up, Average, Paeth)
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        colours.update(bytes(line[i : i + bpp]) for i in range(0, stride, bpp))
        previous = line
    return len(colours)


def test_data_docs_of_a_passing_and_a_failing_run_render_in_a_browser(source, storage, params, tmp_path):
    generate_source(source, days=7, rows_per_day=300)
    passing = validate_batch(
        storage,
        extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))["manifest_uri"],
        SUITE,
        params["validation"],
    )
    generate_source(
        source, days=7, rows_per_day=300, broken="negative_amount", broken_days=(date(2026, 11, 12),)
    )
    with pytest.raises(BatchRejected) as caught:
        validate_batch(
            storage,
            # another run key than the passing run's; the window's last half-day has no partition yet
            extract_batch(
                source, storage, "m", *window_bounds("2026-11-16T12:00:00+00:00", 7), missing_days="warn"
            )["manifest_uri"],
            SUITE,
            params["validation"],
        )
    failing = caught.value.data_docs_uri
    assert failing and failing != passing["data_docs_uri"]

    for name, uri in (("passing", passing["data_docs_uri"]), ("failing", failing)):
        html = storage.get_text(storage.key_of(uri))
        assert "Expectation Validation Result" in html
        png = tmp_path / f"{name}.png"
        screenshot(uri, png, tmp_path / f"profile-{name}")
        assert png.stat().st_size > 10_000
        assert distinct_colours(png.read_bytes()) > 8, f"the {name} page rendered blank"
    # the failing page shows the failed expectation and its column
    failing_html = storage.get_text(storage.key_of(failing))
    assert "amount" in failing_html and "Failed" in failing_html


def test_data_docs_work_offline_from_the_index_to_the_run_page(source, storage, params, tmp_path):
    import re

    generate_source(source, days=7, rows_per_day=300)
    report = validate_batch(
        storage,
        extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))["manifest_uri"],
        SUITE,
        params["validation"],
    )
    site = storage.uri("data-docs/m/2026-11-16T000000Z")
    for key in storage.list("data-docs/m"):  # no page fetches a script, style or image from the internet
        if key.endswith(".html"):
            fetched = re.findall(
                r'<(?:script|img)[^>]*src="https?://|<link[^>]*href="https?://', storage.get_text(key)
            )
            assert fetched == [], key

    index = chromium(tmp_path / "p1", "--dump-dom", f"{site}/index.html")
    links = re.findall(r'data-href="(validations/[^"]+)"', index)  # rows the index's table script built
    assert len(links) == 1 and "2026-11-16T000000Z" in links[0]
    page_uri = f"{site}/{links[0]}"
    assert page_uri == report["data_docs_uri"]
    page = chromium(tmp_path / "p2", "--dump-dom", page_uri)
    assert (
        "Expectation Validation Result" in page and "2026-11-16T000000Z" in page and "transaction_id" in page
    )
    for name, uri in (("index", f"{site}/index.html"), ("validation", page_uri)):
        png = tmp_path / f"offline-{name}.png"
        screenshot(uri, png, tmp_path / f"p-{name}")
        assert distinct_colours(png.read_bytes()) > 8, f"the {name} page rendered unstyled"
