"""Batch runs over images: a manifest of relative paths (with a bad file reported as a
row problem), and a folder of files; the log keeps hashes and metrics."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest

from rampup.batch.runner import predict_batch
from rampup.errors import ValidationError
from rampup.inputs.media import decode_image
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.inputs.conftest import MODELS, Media


def test_manifest_with_relative_paths_and_a_bad_file(store: Database, registry: Registry,
                                                      media: Media, tmp_path: Path) -> None:
    (media.folder / "broken.png").write_bytes(b"not an image")
    rows = pd.read_csv(media.images).head(5)
    rows.loc[len(rows)] = {"photo": "broken.png", "camera": "a"}
    rows.loc[len(rows)] = {"photo": "missing.png", "camera": "a"}
    manifest = media.folder / "batch.csv"
    rows.to_csv(manifest, index=False)
    out = tmp_path / "scored.parquet"
    summary = predict_batch(store, registry, "vision", manifest, out)
    assert summary.predicted == 5
    assert summary.failed == 2
    scored = pd.read_parquet(out)
    first = decode_image((media.folder / rows.photo[0]).read_bytes())
    assert scored["prediction"][0] == pytest.approx(float(first.pixels.mean()))
    assert scored["photo"].tolist() == rows.photo[:5].tolist()  # paths echo as given
    errors = pd.read_csv(summary.errors) if summary.errors else pd.DataFrame()
    text = " ".join(errors.astype(str).to_numpy().ravel())
    assert "not a readable PNG or JPEG" in text
    assert "missing.png" in text
    logged = [orjson.loads(r["inputs"]) for chunk in store.predictions.iter_predictions("vision")
              for r in chunk]
    assert len(logged) == 5
    assert {row["photo"]["sha256"] for row in logged} >= {first.sha256}
    assert all("brightness" in row["photo"]["metrics"] for row in logged)


def test_a_folder_of_images(store: Database, registry: Registry, media: Media,
                            tmp_path: Path) -> None:
    # without reference data the declared schema holds: camera may be missing
    registry.register("gallery", f"{MODELS}:brightness")
    out = tmp_path / "scored.parquet"
    summary = predict_batch(store, registry, "gallery", media.folder, out)
    # the folder holds 40 photos (and CSV files, which are not images)
    assert summary.predicted == 40, summary
    scored = pd.read_parquet(out)
    assert sorted(scored["file"]) == sorted(f"img{i:02d}.{'png' if i % 2 else 'jpg'}"
                                            for i in range(40))
    with pytest.raises(ValidationError, match="image or audio features"):
        predict_batch(store, registry, "vectors", media.folder, tmp_path / "x.csv")
