"""The data helpers of the benchmarks run beside pgvector (perf/pg_peer.sh
puts this directory on PYTHONPATH): .fbin files, pgvector's vector literals
and exact neighbours."""
import numpy as np


def read_fbin(path):
    """An .fbin file (uint32 rows, uint32 dim, then float32 rows) as an array."""
    rows, dim = np.fromfile(path, dtype=np.uint32, count=2)
    return np.fromfile(path, dtype=np.float32, offset=8).reshape(int(rows), int(dim))


def write_fbin(path, x):
    with open(path, "wb") as f:
        np.array(x.shape, dtype=np.uint32).tofile(f)
        x.astype(np.float32).tofile(f)


def literal(v):
    """A vector as pgvector reads it: '[x,y,...]'."""
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


def write_tsv(path, keys, rows):
    """One line `key<TAB>vector` a row, for COPY into (id, embedding)."""
    with open(path, "w") as f:
        for k, v in zip(keys, rows):
            f.write(f"{k}\t{literal(v)}\n")


def exact_top(q, x, keys, k=10):
    """The keys of each query's k nearest rows of x (L2), nearest first."""
    d = (q * q).sum(1)[:, None] - 2 * q @ x.T + (x ** 2).sum(1)[None, :]
    if k < d.shape[1]:  # the k nearest first, then sorted: no full sort of each row
        near = np.argpartition(d, k, axis=1)[:, :k]
        near = np.take_along_axis(near, np.take_along_axis(d, near, 1).argsort(axis=1, kind="stable"), 1)
    else:
        near = np.argsort(d, axis=1, kind="stable")
    return np.asarray(keys)[near]


def write_pg_queries(path, q, ef_search=40, k=10):
    """A psql script of the k-NN query of each row of q, timed, one result line each."""
    with open(path, "w") as f:
        f.write(f"SET hnsw.ef_search = {ef_search};\n\\timing on\n")
        for v in q:
            f.write(f"SELECT string_agg(id::text, ' ') FROM (SELECT id FROM vx_items ORDER BY embedding <-> "
                    f"'{literal(v)}' LIMIT {k}) r;\n")
