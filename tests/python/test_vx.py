"""The Python module vx: builds from numpy arrays of every element type and
from files, searches against exact ground truth, the (D, I) shapes FAISS
users expect, per-query statistics, progress and cancel, and each error as
its Python exception with vx's message."""
import os
import threading

import numpy as np
import pytest

import vx

ROWS, DIM, QUERIES, K = 2000, 24, 30, 10


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    centres = rng.uniform(0, 10, size=(12, DIM)).astype(np.float32)
    base = (centres[np.arange(ROWS) % 12] + rng.uniform(-0.5, 0.5, size=(ROWS, DIM))).astype(np.float32)
    queries = (centres[np.arange(QUERIES) % 12] + rng.uniform(-0.5, 0.5, size=(QUERIES, DIM))).astype(np.float32)
    return base, queries


def exact(base, queries, k=K):
    d = ((queries[:, None, :].astype(np.float64) - base[None, :, :]) ** 2).sum(-1)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, axis=1), order


def recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])


@pytest.fixture(scope="module")
def hnsw(tmp_path_factory, data):
    base, _ = data
    path = tmp_path_factory.mktemp("idx") / "hnsw"
    vx.build(path, base, quant="sq8")
    return path


def test_search_matches_exact_neighbours_with_exact_distances(hnsw, data):
    base, queries = data
    with vx.open(hnsw) as index:
        D, I = index.search(queries, k=K, ef_search=80)
        assert D.shape == (QUERIES, K) and I.shape == (QUERIES, K)
        assert D.dtype == np.float32 and I.dtype == np.int64
        truth_d, truth_i = exact(base, queries)
        assert recall(I, truth_i) >= 0.95
        want = ((queries[:, None, :] - base[I]) ** 2).sum(-1)
        np.testing.assert_allclose(D, want, rtol=1e-4, atol=1e-3)
        assert np.all(np.diff(D, axis=1) >= 0)


def test_one_query_a_batch_and_threads_agree(hnsw, data):
    _, queries = data
    index = vx.open(hnsw)
    D1, I1 = index.search(queries, threads=1)
    D2, I2 = index.search(queries, threads=2)
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_array_equal(D1, D2)
    d, i = index.search(queries[3])  # 1-D: one row of results
    assert i.shape == (1, K)
    np.testing.assert_array_equal(i[0], I1[3])
    # float64 queries are converted; a non-contiguous view too.
    _, i64 = index.search(queries.astype(np.float64))
    np.testing.assert_array_equal(i64, I1)
    wide = np.repeat(queries, 2, axis=1)[:, ::2]
    _, iv = index.search(wide)
    np.testing.assert_array_equal(iv, I1)
    index.close()


def test_keys_and_every_element_type(tmp_path, data):
    base, queries = data
    keys = np.arange(ROWS, dtype=np.int64) * 3 + 7_000_000_000
    u8 = np.clip(base * 20, 0, 255).astype(np.uint8)
    for name, rows in [("f32", base), ("f16", base.astype(np.float16)), ("u8", u8),
                       ("i8", (u8.astype(np.int16) - 128).astype(np.int8))]:
        path = tmp_path / name
        vx.build(path, rows, keys=keys, quant="sq8", type="ivf", lists=4)
        as_float = rows.astype(np.float32)
        with vx.open(path) as index:
            assert len(index) == ROWS and index.dim == DIM and index.info["type"] == "ivf"
            D, I = index.search(as_float[:QUERIES], probes=4, rerank=ROWS)
            truth_d, truth_i = exact(as_float, as_float[:QUERIES])
            np.testing.assert_array_equal(I, keys[truth_i], err_msg=name)
            np.testing.assert_allclose(D, truth_d, rtol=1e-4, atol=1e-3, err_msg=name)


def test_build_from_a_file_path(tmp_path, data):
    base, queries = data
    path = tmp_path / "base.npy"
    np.save(path, base)
    vx.build(tmp_path / "idx", str(path), type="ivf", lists=4, quant="sq8")
    with vx.open(tmp_path / "idx") as index:
        _, I = index.search(queries, probes=4, rerank=ROWS)
        np.testing.assert_array_equal(I, exact(base, queries)[1])


def test_info_prewarm_and_stats(hnsw):
    index = vx.open(hnsw, memory_mb=2)
    info = index.info
    assert info["type"] == "hnsw" and info["metric"] == "l2" and info["quant"] == "sq8"
    assert info["count"] == ROWS and info["dim"] == DIM and info["m"] == 16
    assert info["structure_cache_bytes"] + info["vector_cache_bytes"] == 2 << 20
    assert index.prewarm() > 0
    q = np.zeros((3, DIM), np.float32) + 5
    D, I, stats = index.search(q, rerank=25, return_stats=True)
    assert set(stats) == {"structure_pages", "structure_reads", "vector_pages", "vector_reads",
                          "round_trips", "codes_scored", "vectors_reranked", "lists_widened", "filter_rows",
                          "filter_scan_limit", "filter_scans", "filter_walks", "filter_fallbacks"}
    assert stats["codes_scored"].shape == (3,)
    assert np.all(stats["codes_scored"] > 0) and np.all(stats["vectors_reranked"] <= 25)
    assert np.all(stats["vectors_reranked"] >= K)
    # past the rows: -1 and inf
    D, I = index.search(q[0], k=ROWS + 5, ef_search=ROWS + 5)
    assert I[0, -1] == -1 and np.isinf(D[0, -1])


def test_progress_is_called_and_an_exception_in_it_cancels(tmp_path, data):
    base, queries = data
    seen = []
    vx.build(tmp_path / "idx", base, quant="sq8", progress=lambda done, total, phase: seen.append((done, total, phase)))
    phases = {p for _, _, p in seen}
    assert {"read", "insert", "write"} <= phases, phases
    before = vx.open(tmp_path / "idx").search(queries)[1]

    def stop(done, total, phase):
        if phase == "insert":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        vx.build(tmp_path / "idx", base[:500], quant="sq8", progress=stop)
    with vx.open(tmp_path / "idx") as index:  # the first index, whole
        assert len(index) == ROWS
        np.testing.assert_array_equal(index.search(queries)[1], before)


def test_searches_run_in_parallel_threads(hnsw, data):
    _, queries = data
    index = vx.open(hnsw)
    want = index.search(queries)[1]
    results = [None] * 4

    def run(i):
        results[i] = index.search(queries)[1]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_errors_are_python_exceptions_with_vx_messages(tmp_path, hnsw, data):
    base, queries = data
    index = vx.open(hnsw)
    with pytest.raises(ValueError, match="23 components; the index has dim 24"):
        index.search(queries[:, :23])
    with pytest.raises(ValueError, match="k must be"):
        index.search(queries, k=0)
    bad = queries.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="query 4.*component 2 is NaN"):
        index.search(bad)
    index.close()
    with pytest.raises(ValueError, match="closed"):
        index.search(queries)
    with pytest.raises(FileNotFoundError, match="missing"):
        vx.open(tmp_path / "missing")
    with pytest.raises(ValueError, match="metric"):
        vx.build(tmp_path / "x", base, metric="euclid")
    with pytest.raises(ValueError, match="dtype int32"):
        vx.build(tmp_path / "x", base.astype(np.int32))
    with pytest.raises(ValueError, match="2-D"):
        vx.build(tmp_path / "x", base[0])
    nan = base.copy()
    nan[77, 1] = np.inf
    with pytest.raises(ValueError, match="row 77 component 1 is Inf"):
        vx.build(tmp_path / "x", nan)
    with pytest.raises(ValueError, match="repeats key"):
        vx.build(tmp_path / "x", base, keys=np.zeros(ROWS, np.int64))
    with pytest.raises(ValueError, match="one key per row"):
        vx.build(tmp_path / "x", base, keys=np.arange(5))
    assert issubclass(vx.CorruptionError, vx.Error)


def test_corruption_is_a_corruption_error(tmp_path, data):
    base, _ = data
    path = tmp_path / "idx"
    vx.build(path, base, quant="sq8", type="ivf", lists=4)
    assert vx.verify(path) == []
    vectors = path / "gen-1" / "vectors"
    raw = bytearray(vectors.read_bytes())
    raw[5000] ^= 0x40
    vectors.write_bytes(bytes(raw))
    problems = vx.verify(path)
    assert len(problems) >= 1 and "vectors" in problems[0]
    manifest = path / "MANIFEST"
    raw = bytearray(manifest.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    manifest.write_bytes(bytes(raw))
    with pytest.raises(vx.CorruptionError, match="MANIFEST"):
        vx.open(path)


def test_snapshot_and_restore(tmp_path, hnsw, data):
    _, queries = data
    calls = []
    info = vx.snapshot(hnsw, tmp_path / "snap.vxs", progress=lambda done, total: calls.append((done, total)))
    assert info["files"] >= 3 and info["archive_bytes"] == (tmp_path / "snap.vxs").stat().st_size
    assert calls and calls[-1][0] == calls[-1][1] == info["bytes"]
    restored = vx.restore(tmp_path / "snap.vxs", tmp_path / "copy")
    assert restored["bytes"] == info["bytes"]
    want = vx.open(hnsw).search(queries)
    got = vx.open(tmp_path / "copy").search(queries)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[0], want[0])
    raw = bytearray((tmp_path / "snap.vxs").read_bytes())
    raw[len(raw) // 2] ^= 0x10
    (tmp_path / "bad.vxs").write_bytes(bytes(raw))
    with pytest.raises(vx.CorruptionError, match="offset"):
        vx.restore(tmp_path / "bad.vxs", tmp_path / "copy")
    np.testing.assert_array_equal(vx.open(tmp_path / "copy").search(queries)[1], want[1])


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_deletes_through_a_writer(tmp_path, data, kind):
    base, queries = data
    path = tmp_path / kind
    keys = np.arange(ROWS, dtype=np.int64) * 3 + 100
    vx.build(path, base, type=kind, keys=keys, quant="sq8", lists=8)
    with vx.open_writer(path) as w:
        with pytest.raises(vx.BusyError):
            vx.open_writer(path)
        _, first = w.search(queries, k=K, probes=8)
        gone = np.unique(first)
        w.delete(gone)
        assert len(w) == ROWS - len(gone) and w.info["deleted"] == len(gone)
        live = np.setdiff1d(np.arange(ROWS), (gone - 100) // 3)
        assert all((k in w) == (k not in gone) for k in keys[::7])
        with pytest.raises(KeyError, match="key 7 "):
            w.delete(np.array([keys[live[0]], 7]))
        with pytest.raises(KeyError, match="already deleted"):
            w.delete(np.array([keys[live[0]], gone[0]]))
        with pytest.raises(ValueError, match="repeats"):
            w.delete(np.array([keys[live[1]], keys[live[1]]]))
        assert len(w) == ROWS - len(gone) and keys[live[0]] in w  # the refused batches applied nothing
        _, want = exact(base[live], queries)
        for index in (w, vx.open(path)):  # the writer, and an index opened from its WAL
            _, got = index.search(queries, k=K, probes=8, ef_search=64)
            assert not np.isin(got, gone).any()
            assert (got >= 0).all()
            assert recall(got, keys[live[want]]) >= 0.9
        w.checkpoint()
        assert [s["kind"] for s in w.info["segments"]] == ["tombstones"]
    reader = vx.open(path)
    assert reader.info["deleted"] == len(gone)
    with pytest.raises(ValueError, match="read-only"):
        reader.delete(keys[:1])


def test_version():
    assert vx.__version__.count(".") == 2


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_inserts_and_upserts_through_a_writer(tmp_path, data, kind):
    base, queries = data
    path = tmp_path / kind
    vx.build(path, base, type=kind, quant="sq8", lists=8)
    new_keys = np.arange(len(queries), dtype=np.int64) + 10**9
    with vx.open_writer(path) as w:
        w.insert(new_keys, queries)  # each query's own row: its nearest
        assert len(w) == ROWS + len(queries) and w.info["inserted"] == len(queries)
        assert all(k in w for k in new_keys)
        d, got = w.search(queries, k=1, probes=8)
        np.testing.assert_array_equal(got[:, 0], new_keys)
        np.testing.assert_allclose(d[:, 0], 0, atol=1e-4)
        with pytest.raises(ValueError, match=f"key {new_keys[0]} \\(item 0 of the batch\\) exists"):
            w.insert(new_keys[:1], queries[:1])
        with pytest.raises(ValueError, match="shape"):
            w.insert(new_keys[:2], queries[:1])
        bad = queries[:2].copy()
        bad[1, 3] = np.nan
        with pytest.raises(ValueError, match="component 3 is NaN"):
            w.insert(np.array([5 * 10**9, 5 * 10**9 + 1]), bad)
        assert 5 * 10**9 not in w  # the refused batch applied nothing
        # Upsert moves the first query's row far away: it is no longer its nearest.
        far = queries[:1] + 100
        w.upsert(new_keys[:1], far)
        assert len(w) == ROWS + len(queries) and w.info["deleted"] == 1
        _, got = w.search(queries[:1], k=1, probes=8)
        assert got[0, 0] != new_keys[0]
        w.checkpoint()
        assert sorted(s["kind"] for s in w.info["segments"]) == ["rows", "tombstones"]
    reader = vx.open(path)
    assert reader.info["inserted"] == len(queries) + 1 and len(reader) == ROWS + len(queries)
    d, got = reader.search(queries[1:], k=1, probes=8)
    np.testing.assert_array_equal(got[:, 0], new_keys[1:])
    d, got = reader.search(far, k=1, probes=8)
    assert got[0, 0] == new_keys[0]
    del reader
    vx.reindex(path)
    folded = vx.open(path)
    assert folded.info["inserted"] == 0 and folded.info["deleted"] == 0 and len(folded) == ROWS + len(queries)
    _, got = folded.search(queries[1:], k=1, probes=8)
    np.testing.assert_array_equal(got[:, 0], new_keys[1:])


def test_a_writer_reindexes_while_a_thread_writes(tmp_path, data):
    import threading

    base, queries = data
    path = tmp_path / "idx"
    vx.build(path, base, quant="sq8")
    with vx.open_writer(path) as w:
        w.delete(np.arange(0, 100, dtype=np.int64))
        stop, written = threading.Event(), []

        def write():
            for i in range(200):
                if stop.is_set() and i > 0:
                    break
                w.insert(np.array([10**9 + i]), queries[i % len(queries)][None, :])
                written.append(10**9 + i)

        t = threading.Thread(target=write)
        t.start()
        w.reindex()
        stop.set()
        t.join()
        assert written and all(k in w for k in written) and 5 not in w and 100 in w
        assert w.info["generation"] == 2 and len(w) == ROWS - 100 + len(written)
        w.delete(np.arange(100, 150, dtype=np.int64))
        w.vacuum(threads=1)
        info = w.info
        assert info["generation"] == 3 and info["deleted"] == 0 and info["inserted"] == 0
        assert len(w) == ROWS - 150 + len(written) and 120 not in w and 150 in w
    reopened = vx.open(path)
    assert len(reopened) == ROWS - 150 + len(written)
    _, got = reopened.search(queries[:1], k=1)
    assert got[0, 0] in written


def test_inserts_past_the_delta_memory_are_refused(tmp_path, data):
    base, queries = data
    path = tmp_path / "idx"
    vx.build(path, base, quant="sq8")
    row_mb = 4096 * (8 + 4 * base.shape[1]) / 2**20  # one chunk of inserted rows
    with vx.open_writer(path, delta_memory_mb=row_mb, auto_reindex_at=0) as w:
        keys = np.arange(4096, dtype=np.int64) + 10**9
        vectors = np.repeat(queries[:1], 4096, axis=0)
        w.insert(keys[:4000], vectors[:4000])
        with pytest.raises(MemoryError, match="delta_memory_bytes"):
            w.insert(np.arange(97, dtype=np.int64) + 2 * 10**9, np.repeat(queries[:1], 97, axis=0))  # 4,097 rows
        assert w.info["inserted"] == 4000


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_filtered_search_returns_the_nearest_matching_rows(tmp_path, data, kind):
    base, queries = data
    rows = np.arange(ROWS)
    tenant = rows % 25
    price = rows * 0.5
    tags = [[r % 3, 10 + r % 5] for r in rows]
    path = tmp_path / kind
    vx.build(path, base, type=kind, quant="sq8", lists=8,
             attributes={"tenant": tenant, "price": price, "tags": tags})
    index = vx.open(path)
    assert index.info["attributes"] == {"tenant": "int", "price": "float", "tags": "labels"}
    assert index.info["attribute_bytes"] > 0
    for expr, match in [("tenant = 4", tenant == 4),
                        ("tags HAS 11 AND price < 600", (rows % 5 == 1) & (price < 600)),
                        ("NOT tenant IN (1, 2) OR tags HAS 2", ~np.isin(tenant, [1, 2]) | (rows % 3 == 2)),
                        ("price BETWEEN 10 AND 11", (price >= 10) & (price <= 11))]:
        D, I, stats = index.search(queries, k=K, ef_search=64, probes=3, filter=expr, return_stats=True)
        live = rows[match]
        _, want = exact(base[live], queries, min(K, len(live)))
        got = I[:, :len(live)] if len(live) < K else I
        assert np.isin(got, live).all(), expr
        if len(live) < K:
            assert (I[:, len(live):] == -1).all()
        assert recall(got, live[want]) >= 0.9, expr
        assert (stats["filter_rows"] == len(live)).all()
        assert (stats["filter_scans"] + stats["filter_walks"] == 1).all()
    # One filter per query.
    per_query = [f"tenant = {i % 25}" for i in range(QUERIES)]
    _, I = index.search(queries, k=K, filter=per_query)
    assert all((I[i] % 25 == i % 25).all() for i in range(QUERIES))
    _, I2 = index.search(queries, k=K, filter=per_query, threads=2)
    np.testing.assert_array_equal(I2, I)
    with pytest.raises(ValueError, match="2 filters for 30 queries"):
        index.search(queries, filter=per_query[:2])
    with pytest.raises(ValueError, match="at character 10"):
        index.search(queries, filter="tenant = = 1")
    with pytest.raises(ValueError, match="'colour'"):
        index.search(queries, filter="colour = 1")
    # Inserted rows carry attributes (price as integers: widened) and match by them.
    del index
    with vx.open_writer(path) as w:
        new = np.arange(len(queries), dtype=np.int64) + 10**9
        with pytest.raises(ValueError, match="tenant"):
            w.insert(new, queries)
        w.insert(new, queries, attributes={"tenant": np.full(len(queries), 99), "price": np.arange(len(queries)),
                                           "tags": [[42]] * len(queries)})
        _, I = w.search(queries, k=2, probes=3, filter="tenant = 99 AND tags HAS 42 AND price >= 1")
        np.testing.assert_array_equal(I[1:, 0], new[1:])
        assert (I[0] != new[0]).all()
        w.upsert(new[:1], queries[:1], attributes={"tenant": [5], "price": [1.5], "tags": [[]]})
        _, I = w.search(queries[:1], k=1, filter="tenant = 5 AND price = 1.5")
        assert I[0, 0] == new[0]
    with pytest.raises(ValueError, match="price"):
        vx.build(tmp_path / "short", base, attributes={"tenant": tenant, "price": price[:-1]})
    vx.build(tmp_path / "plain", base, quant="sq8")
    with pytest.raises(ValueError, match="no attributes"):
        vx.open(tmp_path / "plain").search(queries, filter="tenant = 1")
