"""Artifacts in an object store: registration and first load through a local S3 server
(moto, started here on 127.0.0.1) against a local artifacts folder, measured in one run.

One command::

    .venv/bin/python benchmarks/artifacts.py            # 5 rounds, 1 MB and 50 MB models
    .venv/bin/python benchmarks/artifacts.py --rounds 1 --sizes 1   # a smoke run

Each round, for each model size and backend: ``put`` (copy + hash, and for S3 the upload)
into a fresh store, then the **first load** on a replica with an empty cache (for S3: the
download and the hash check; for a folder: the hash check) and a **warm load** (the cached
copy, hashed again). The model file is random bytes of the given size (what is timed is
moving and hashing bytes; unpickling is the same for both and left out). The table shows
medians and the ratio S3 / folder: the price of a shared store on one machine, where the
"network" is loopback and moto keeps objects in memory; a real bucket adds its latency
and bandwidth to the first load only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.s3server import moto_server

from rampup.registry.artifacts import ArtifactStore, hash_path
from rampup.registry.objectstore import ObjectArtifactStore


def _round(make: object, source: Path, model: str) -> tuple[float, float, float]:
    assert callable(make)
    t0 = time.perf_counter()
    writer = make("writer")
    uri, digest = writer.put(model, "v1", source)
    t1 = time.perf_counter()
    reader = make("reader")
    first = reader.pinned(digest, verify=True).path(uri)
    if not isinstance(reader, ObjectArtifactStore):  # a folder: the registry hashes it
        assert hash_path(first) == digest
    t2 = time.perf_counter()
    again = reader.pinned(digest, verify=True).path(uri)
    if not isinstance(reader, ObjectArtifactStore):
        assert hash_path(again) == digest
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def _registry_round(tmp: Path, location: str, model_path: Path, ref_path: Path
                    ) -> tuple[float, float]:
    """``Registry.register`` (copy/upload, inspect, profile, smoke test) and the first
    ``Registry.load`` on another replica (fresh cache), on one SQLite store."""
    from rampup.registry.objectstore import open_artifacts
    from rampup.registry.registry import Registry
    from rampup.store import Database

    db = Database.open(f"sqlite:///{tmp / 'r.db'}")
    try:
        t0 = time.perf_counter()
        Registry(db, open_artifacts(location, tmp / "cache-a")).register(
            "credit", model_path, reference=ref_path, label_column="y")
        t1 = time.perf_counter()
        replica = Registry(db, open_artifacts(location, tmp / "cache-b"))
        replica.load(replica.get("credit", "v1"))
        t2 = time.perf_counter()
    finally:
        db.close()
    return t1 - t0, t2 - t1


def _registry_bench(tmp: Path, bucket: str, rounds: int) -> None:
    import joblib
    from tests.serving.conftest import fit, make_frame

    model_path, ref_path = tmp / "credit.joblib", tmp / "ref.parquet"
    joblib.dump(fit(make_frame(2000, seed=1), 1.0), model_path)
    make_frame(2000, seed=2).to_parquet(ref_path, index=False)
    res: dict[str, list[tuple[float, float]]] = {"folder": [], "s3": []}
    for r in range(rounds):
        for kind in ("folder", "s3"):
            run = tmp / f"reg-{kind}-{r}"
            run.mkdir()
            loc = str(run / "artifacts") if kind == "folder" else f"s3://{bucket}/reg-{r}"
            res[kind].append(_registry_round(run, loc, model_path, ref_path))
    print(f"\nregistry, a scikit-learn pipeline ({model_path.stat().st_size / 1024:.0f} KB) "
          "with 2,000 reference rows")
    med = {k: [statistics.median(t[i] for t in v) for i in range(2)] for k, v in res.items()}
    for k in ("folder", "s3"):
        print(f"{k:8} register {med[k][0] * 1000:>8.1f}ms   first load on a replica "
              f"{med[k][1] * 1000:>7.1f}ms")
    print(f"s3/folder register {med['s3'][0] / med['folder'][0]:.2f}x   first load "
          f"{med['s3'][1] / med['folder'][1]:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", type=float, nargs="+", default=[1.0, 50.0],
                    help="model sizes in MB")
    args = ap.parse_args()
    with moto_server() as server, tempfile.TemporaryDirectory() as tmp_s:
        os.environ.update(server.env())
        import s3fs

        tmp = Path(tmp_s)
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
        print(f"load average {os.getloadavg()[0]:.2f}; moto at {server.endpoint}")
        print(f"{'size':>7} {'backend':8} {'register':>10} {'first load':>11} "
              f"{'warm load':>10}")
        for size in args.sizes:
            source = tmp / f"model-{size:g}MB.bin"
            source.write_bytes(os.urandom(int(size * 2**20)))
            times: dict[str, list[tuple[float, float, float]]] = {"folder": [], "s3": []}
            for r in range(args.rounds):
                run = tmp / f"r{size:g}-{r}"
                url = f"s3://{bucket}/r{size:g}-{r}"

                def folder(_who: str, run: Path = run) -> ArtifactStore:
                    return ArtifactStore(run / "artifacts")

                def s3(who: str, run: Path = run, url: str = url) -> ArtifactStore:
                    return ObjectArtifactStore(url, run / f"cache-{who}")

                times["folder"].append(_round(folder, source, "m"))
                times["s3"].append(_round(s3, source, "m"))
            med = {k: [statistics.median(t[i] for t in v) for i in range(3)]
                   for k, v in times.items()}
            for k in ("folder", "s3"):
                reg, first, warm = med[k]
                print(f"{size:>5g}MB {k:8} {reg * 1000:>8.1f}ms {first * 1000:>9.1f}ms "
                      f"{warm * 1000:>8.1f}ms")
            ratio = [med["s3"][i] / med["folder"][i] for i in range(3)]
            print(f"{'':7} {'s3/folder':8} {ratio[0]:>9.1f}x {ratio[1]:>10.1f}x "
                  f"{ratio[2]:>9.1f}x")
        _registry_bench(tmp, bucket, args.rounds)


if __name__ == "__main__":
    main()
