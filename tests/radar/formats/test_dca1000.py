"""DCA1000 raw ADC reader/writer: TI's LVDS layouts, round trips, partial frames, errors."""

from __future__ import annotations

import os
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

from mmsight.radar.formats import DCA1000Reader, RadarFormatError, RadarFormatWarning, write_dca1000


def _random_frames(rng, n_frames, shape, complex_):
    x = rng.integers(-32768, 32768, size=(n_frames, *shape)).astype(np.float64)
    if complex_:
        x = x + 1j * rng.integers(-32768, 32768, size=x.shape)
    return x.astype(np.complex64)


@pytest.mark.parametrize("layout", ["xwr68xx", "xwr14xx", "xwr16xx", "xwr18xx", "xwr12xx"])
@pytest.mark.parametrize("complex_,iq_swap", [(True, False), (False, False), (True, True)])
def test_round_trip_exact(tmp_path, layout, complex_, iq_swap):
    rng = np.random.default_rng(1)
    shape = (3, 2, 3, 10)  # n_loops, n_tx, n_rx, n_samples
    frames = _random_frames(rng, 4, shape, complex_)
    path = tmp_path / "cap.bin"
    assert write_dca1000(path, frames, layout=layout, complex=complex_, iq_swap=iq_swap) == 4
    reader = DCA1000Reader(path, n_samples=10, n_rx=3, n_chirps_per_frame=6, n_tx=2,
                           complex=complex_, layout=layout, iq_swap=iq_swap)
    assert len(reader) == 4
    assert reader.trailing_bytes == 0
    for i, frame in enumerate(reader):
        assert frame.dtype == np.complex64 and frame.shape == shape
        np.testing.assert_array_equal(frame, frames[i])
    np.testing.assert_array_equal(reader[1:3], frames[1:3])
    np.testing.assert_array_equal(reader[-1], frames[-1])
    if not complex_:
        assert np.all(reader[0].imag == 0)


def test_xwr68xx_complex_words_are_two_i_then_two_q(tmp_path):
    # 1 chirp, 2 RX, 4 samples. Stream order: chirp -> RX -> sample;
    # stored as I(n) I(n+1) Q(n) Q(n+1)
    words = np.array([1, 2, 101, 102, 3, 4, 103, 104,        # RX0 samples 0..3
                      5, 6, 105, 106, 7, 8, 107, 108],       # RX1 samples 0..3
                     dtype="<i2")
    path = tmp_path / "a.bin"
    words.tofile(path)
    r = DCA1000Reader(path, n_samples=4, n_rx=2, n_chirps_per_frame=1)
    f = r[0]
    assert f.shape == (1, 1, 2, 4)
    np.testing.assert_array_equal(f[0, 0, 0], [1 + 101j, 2 + 102j, 3 + 103j, 4 + 104j])
    np.testing.assert_array_equal(f[0, 0, 1], [5 + 105j, 6 + 106j, 7 + 107j, 8 + 108j])


def test_xwr14xx_complex_words_are_four_lanes_i_then_q(tmp_path):
    # 1 chirp, 4 RX, 2 samples: per sample I(rx0..rx3) then Q(rx0..rx3)
    words = np.array([10, 20, 30, 40, -10, -20, -30, -40,
                      11, 21, 31, 41, -11, -21, -31, -41], dtype="<i2")
    path = tmp_path / "b.bin"
    words.tofile(path)
    f = DCA1000Reader(path, n_samples=2, n_rx=4, n_chirps_per_frame=1, layout="xwr14xx")[0]
    np.testing.assert_array_equal(f[0, 0, :, 0], [10 - 10j, 20 - 20j, 30 - 30j, 40 - 40j])
    np.testing.assert_array_equal(f[0, 0, :, 1], [11 - 11j, 21 - 21j, 31 - 31j, 41 - 41j])


@pytest.mark.parametrize("layout", ["xwr68xx", "xwr14xx"])
def test_iq_swap_puts_q_words_first(tmp_path, layout):
    x = np.array([[[[[1 + 5j, 2 + 6j], [3 + 7j, 4 + 8j]]]]], dtype=np.complex64)  # 2 RX, 2 samples
    path = tmp_path / "s.bin"
    write_dca1000(path, x, layout=layout, iq_swap=True)
    words = np.fromfile(path, "<i2")
    if layout == "xwr68xx":  # RX0 samples 0,1 then RX1: Q Q I I per pair
        assert words.tolist() == [5, 6, 1, 2, 7, 8, 3, 4]
    else:  # per sample: Q of lanes 0-3, then I of lanes 0-3
        assert words.tolist() == [5, 7, 0, 0, 1, 3, 0, 0, 6, 8, 0, 0, 2, 4, 0, 0]
    r = DCA1000Reader(path, n_samples=2, n_rx=2, n_chirps_per_frame=1, layout=layout,
                      iq_swap=True)
    np.testing.assert_array_equal(r[0], x[0])
    # read without the swap, I and Q trade places
    plain = DCA1000Reader(path, n_samples=2, n_rx=2, n_chirps_per_frame=1, layout=layout)[0]
    np.testing.assert_array_equal(plain, x[0].imag + 1j * x[0].real)
    with pytest.raises(ValueError):
        DCA1000Reader(path, n_samples=2, n_rx=2, n_chirps_per_frame=1, layout=layout,
                      complex=False, iq_swap=True)


def test_xwr14xx_fewer_rx_uses_first_lanes_and_writer_zero_fills(tmp_path):
    frames = np.array([[[[[1 + 2j, 3 + 4j], [5 + 6j, 7 + 8j]]]]], dtype=np.complex64)  # 2 RX
    path = tmp_path / "c.bin"
    write_dca1000(path, frames, layout="xwr14xx")
    np.testing.assert_array_equal(np.fromfile(path, "<i2"),
                                  [1, 5, 0, 0, 2, 6, 0, 0, 3, 7, 0, 0, 4, 8, 0, 0])


def test_real_mode_layouts(tmp_path):
    words = np.arange(1, 9, dtype="<i2")
    path = tmp_path / "r.bin"
    words.tofile(path)
    # 2-lane real: straight chirp -> RX -> sample order
    f = DCA1000Reader(path, n_samples=4, n_rx=2, n_chirps_per_frame=1, complex=False)[0]
    np.testing.assert_array_equal(f[0, 0].real, [[1, 2, 3, 4], [5, 6, 7, 8]])
    assert f.dtype == np.complex64 and np.all(f.imag == 0)
    # 4-lane real: one word per lane per sample
    f = DCA1000Reader(path, n_samples=2, n_rx=4, n_chirps_per_frame=1, complex=False,
                      layout="xwr14xx")[0]
    np.testing.assert_array_equal(f[0, 0].real, [[1, 5], [2, 6], [3, 7], [4, 8]])


def test_tdm_chirps_reshape_loop_major(tmp_path):
    # 4 chirps, n_tx=2: chirp c -> loop c // 2, tx c % 2 (real mode: one value per chirp here)
    words = np.array([0, 0, 1, 1, 2, 2, 3, 3], dtype="<i2")  # 2 samples per chirp
    path = tmp_path / "t.bin"
    words.tofile(path)
    f = DCA1000Reader(path, n_samples=2, n_rx=1, n_chirps_per_frame=4, n_tx=2, complex=False)[0]
    assert f.shape == (2, 2, 1, 2)
    np.testing.assert_array_equal(f[:, :, 0, 0].real, [[0, 1], [2, 3]])


def test_trailing_partial_frame_warns_and_is_exposed(tmp_path):
    rng = np.random.default_rng(2)
    frames = _random_frames(rng, 2, (2, 1, 2, 4), True)
    path = tmp_path / "p.bin"
    write_dca1000(path, frames)
    extra = np.array([7, 8, 9, 10], dtype="<i2")  # one complete I I Q Q word group
    with open(path, "ab") as f:
        f.write(extra.tobytes())
    frame_bytes = 2 * 2 * 4 * 2 * 2  # chirps * rx * samples * (I,Q) * 2 bytes
    with pytest.warns(RadarFormatWarning, match=f"byte offset {2 * frame_bytes}"):
        r = DCA1000Reader(path, n_samples=4, n_rx=2, n_chirps_per_frame=2)
    assert len(r) == 2 and r.trailing_bytes == 8 and r.trailing_offset == 2 * frame_bytes
    np.testing.assert_array_equal(r.trailing_words(), extra)
    np.testing.assert_array_equal(r[1], frames[1])
    with pytest.raises(RadarFormatError) as e:
        DCA1000Reader(path, n_samples=4, n_rx=2, n_chirps_per_frame=2, strict=True)
    assert e.value.offset == 2 * frame_bytes
    assert f"byte offset {2 * frame_bytes}" in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("layout,complex_,word", [("xwr68xx", True, 8), ("xwr68xx", False, 2),
                                                  ("xwr14xx", True, 16), ("xwr14xx", False, 8)])
def test_size_not_multiple_of_sample_word_raises_with_offset(tmp_path, layout, complex_, word):
    path = tmp_path / "odd.bin"
    path.write_bytes(b"\0" * (3 * word + 1))
    with pytest.raises(RadarFormatError) as e:
        DCA1000Reader(path, n_samples=4, n_rx=2, n_chirps_per_frame=1, layout=layout,
                      complex=complex_)
    assert e.value.offset == 3 * word
    assert f"byte offset {3 * word}" in str(e.value)


def test_empty_file_has_no_frames(tmp_path):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    r = DCA1000Reader(path, n_samples=4, n_rx=2, n_chirps_per_frame=1)
    assert len(r) == 0 and list(r) == [] and r.trailing_bytes == 0
    with pytest.raises(IndexError):
        r[0]


def test_memory_mapped_large_sparse_file(tmp_path):
    # a 1 GiB sparse capture: opening it and reading its last frame must not read the file
    n_samples, n_rx, n_chirps = 256, 4, 64
    frame_bytes = n_samples * n_rx * n_chirps * 4
    n_frames = (1 << 30) // frame_bytes
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.truncate(n_frames * frame_bytes)
        f.seek((n_frames - 1) * frame_bytes)
        f.write(np.full(4, 5, dtype="<i2").tobytes())
    tracemalloc.start()
    try:
        r = DCA1000Reader(path, n_samples=n_samples, n_rx=n_rx, n_chirps_per_frame=n_chirps)
        last = r[-1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(r) == n_frames
    assert isinstance(r._mm, np.memmap)
    assert last[0, 0, 0, :2].tolist() == [5 + 5j, 5 + 5j]
    assert peak < 8 * frame_bytes  # a few frames' worth, not the GiB
    r.close()


def test_from_config_duck_typed(tmp_path):
    rng = np.random.default_rng(3)
    cfg = SimpleNamespace(n_samples=8, n_rx=4, n_tx=3, n_loops=2)
    frames = _random_frames(rng, 2, (2, 3, 4, 8), True)
    path = tmp_path / "cfg.bin"
    write_dca1000(path, frames)
    r = DCA1000Reader.from_config(path, cfg)
    assert r.frame_shape == (2, 3, 4, 8)
    np.testing.assert_array_equal(r[1], frames[1])
    # a config that says real sampling selects real mode
    real = SimpleNamespace(n_samples=8, n_rx=4, n_tx=1, n_loops=1, complex_sampling=False)
    write_dca1000(path, frames.real[:, :1, :1].astype(np.complex64), complex=False)
    r = DCA1000Reader.from_config(path, real)
    assert not r.geometry.complex and len(r) == 2


def test_from_config_with_radar_config(tmp_path):
    config_mod = pytest.importorskip("mmsight.radar.config")
    cfg = config_mod.RadarConfig()
    shape = (cfg.n_loops, cfg.n_tx, cfg.n_rx, cfg.n_samples)
    frames = np.ones((1, *shape), dtype=np.complex64)
    path = tmp_path / "rc.bin"
    write_dca1000(path, frames)
    r = DCA1000Reader.from_config(path, cfg)
    assert r.frame_shape == shape and len(r) == 1


def test_write_is_atomic_on_failure(tmp_path):
    path = tmp_path / "keep.bin"
    path.write_bytes(b"old")

    def frames():
        yield np.zeros((1, 1, 1, 4), np.complex64)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_dca1000(path, frames())
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["keep.bin"]


@pytest.mark.parametrize("bad", [0.5 + 0j, 40000 + 0j, np.nan + 0j])
def test_writer_rejects_values_a_file_cannot_hold(tmp_path, bad):
    frames = np.zeros((1, 1, 1, 1, 4), np.complex64)
    frames[0, 0, 0, 0, 0] = bad
    with pytest.raises(ValueError):
        write_dca1000(tmp_path / "x.bin", frames)
    with pytest.raises(ValueError):  # real mode cannot hold an imaginary part
        write_dca1000(tmp_path / "x.bin", np.full((1, 1, 1, 1, 4), 1j), complex=False)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        DCA1000Reader("unused.bin", n_samples=4, n_rx=2, n_chirps_per_frame=3, n_tx=2)
    with pytest.raises(ValueError):
        DCA1000Reader("unused.bin", n_samples=4, n_rx=5, n_chirps_per_frame=1, layout="xwr14xx")
    with pytest.raises(ValueError):
        DCA1000Reader("unused.bin", n_samples=3, n_rx=1, n_chirps_per_frame=1)  # odd pairs
    with pytest.raises(ValueError):
        DCA1000Reader("unused.bin", n_samples=4, n_rx=1, n_chirps_per_frame=1, layout="awr9")


def test_error_carries_offset_path_and_pickles():
    import pickle

    e = RadarFormatError("bad word", offset=12, path="x.bin", line=3)
    assert str(e) == "x.bin: byte offset 12 (line 3): bad word"
    assert isinstance(e, ValueError)
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.offset, e2.path, e2.line, e2.detail, str(e2)) == (12, "x.bin", 3, "bad word", str(e))
    assert str(RadarFormatError("no file", offset=0)) == "byte offset 0: no file"
