from dataclasses import replace
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import pytest
from sqlalchemy import select

from actions.catalogue_store import CatalogueRepository, Product
from actions.db import Database
from actions.recommender.embedding_store import count_stale, load_vectors, refresh_embeddings
from actions.recommender.embeddings import (
    MINILM_MODEL_NAME,
    Embedder,
    MiniLMEmbedder,
    decode_vector,
    encode_vector,
    get_embedder,
    product_text,
    set_torch_threads,
)
from actions.settings import Settings, get_settings
from tests.actions.recommender.support import (
    BY_SKU,
    CATALOGUE,
    FAKE_DIMENSION,
    FakeEmbedder,
    empty_database,
)


def stored(database: Database) -> Dict[str, "tuple[Optional[bytes], Optional[str]]"]:
    with database.session() as session:
        rows = session.execute(select(Product.sku, Product.embedding, Product.embedding_model))
        return {sku: (embedding, model) for sku, embedding, model in rows}


def test_product_text_names_title_brand_category_description_and_attributes() -> None:
    text = product_text(BY_SKU["HP-1"])

    assert text == (
        "Sony WH-1000XM5 Noise Cancelling Headphones. Brand: Sony. Category: Headphones. "
        "Over-ear wireless headphones with noise cancelling for flights. "
        "Features: noise cancelling, wireless; battery hours: 30; weight g: 250."
    )
    assert product_text(BY_SKU["HP-1"]) == text


def test_vectors_round_trip_as_little_endian_float32() -> None:
    vector = np.array([0.25, -1.5, 3.0], dtype=np.float64)

    data = encode_vector(vector)

    assert data == np.array([0.25, -1.5, 3.0], dtype="<f4").tobytes()
    assert decode_vector(data).dtype == np.float32
    assert decode_vector(data) == pytest.approx(vector)


def test_refresh_stores_normalised_vectors_for_every_product(
    catalogue_database: Database, fake_embedder: FakeEmbedder
) -> None:
    assert count_stale(catalogue_database, fake_embedder.model_name) == len(CATALOGUE)

    assert refresh_embeddings(catalogue_database, fake_embedder, batch_size=4) == len(CATALOGUE)

    rows = stored(catalogue_database)
    assert {model for _, model in rows.values()} == {"fake-bow"}
    vector = decode_vector(rows["HP-1"][0] or b"")
    assert vector.shape == (FAKE_DIMENSION,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)
    expected = FakeEmbedder.vector(product_text(BY_SKU["HP-1"]))
    assert vector == pytest.approx(expected / np.linalg.norm(expected), abs=1e-6)
    assert [len(call) for call in fake_embedder.calls] == [4, 4, 2]
    assert count_stale(catalogue_database, fake_embedder.model_name) == 0


def test_refresh_only_embeds_what_is_missing_or_changed(
    catalogue_database: Database, fake_embedder: FakeEmbedder
) -> None:
    refresh_embeddings(catalogue_database, fake_embedder)
    before = stored(catalogue_database)
    fake_embedder.calls.clear()

    assert refresh_embeddings(catalogue_database, fake_embedder) == 0
    assert fake_embedder.calls == []

    repository = CatalogueRepository(catalogue_database)
    renamed = replace(BY_SKU["HP-2"], title="Bose QuietComfort Ultra Noise Cancelling")
    restocked = replace(BY_SKU["HP-3"], stock=99)  # no text change: keeps its vector
    repository.upsert_many([renamed, restocked])

    assert refresh_embeddings(catalogue_database, fake_embedder) == 1
    assert fake_embedder.calls == [[product_text(renamed)]]
    after = stored(catalogue_database)
    assert after["HP-3"] == before["HP-3"]
    assert after["HP-2"] != before["HP-2"]


def test_vectors_of_another_model_are_replaced(
    catalogue_database: Database, fake_embedder: FakeEmbedder
) -> None:
    refresh_embeddings(catalogue_database, fake_embedder)
    newer = FakeEmbedder(model_name="fake-bow-v2")

    assert count_stale(catalogue_database, "fake-bow-v2") == len(CATALOGUE)
    assert refresh_embeddings(catalogue_database, newer) == len(CATALOGUE)
    assert {model for _, model in stored(catalogue_database).values()} == {"fake-bow-v2"}
    assert load_vectors(catalogue_database, "fake-bow")[0] == []


def test_a_product_edited_while_embedding_keeps_no_stale_vector(
    catalogue_database: Database,
) -> None:
    repository = CatalogueRepository(catalogue_database)
    edited = replace(BY_SKU["CM-1"], description="Now with a new description.")

    def edit_once(texts: Sequence[str]) -> None:
        if any("Sage" in text for text in texts) and repository.get("CM-1") != edited:
            repository.upsert_many([edited])

    embedder = FakeEmbedder(on_embed=edit_once)

    assert refresh_embeddings(catalogue_database, embedder, batch_size=100) == len(CATALOGUE) - 1
    assert stored(catalogue_database)["CM-1"] == (None, None)
    assert refresh_embeddings(catalogue_database, embedder) == 1
    assert embedder.calls[-1] == [product_text(edited)]


def test_load_vectors_returns_the_matrix_in_sku_order(
    catalogue_database: Database, fake_embedder: FakeEmbedder
) -> None:
    refresh_embeddings(catalogue_database, fake_embedder)

    skus, matrix = load_vectors(catalogue_database, "fake-bow")

    assert skus == sorted(record.sku for record in CATALOGUE)
    assert matrix.shape == (len(CATALOGUE), FAKE_DIMENSION) and matrix.dtype == np.float32


def test_an_empty_catalogue_needs_no_model(tmp_path: Path) -> None:
    database = empty_database(tmp_path / "empty.db")
    embedder = FakeEmbedder()

    assert refresh_embeddings(database, embedder) == 0
    assert embedder.calls == []
    skus, matrix = load_vectors(database, embedder.model_name)
    assert skus == [] and matrix.size == 0
    database.dispose()


def test_bad_batch_sizes_and_embedders_are_rejected(catalogue_database: Database) -> None:
    class Short(FakeEmbedder):
        def embed(self, texts: Sequence[str]) -> np.ndarray:
            return super().embed(texts)[:1]

    with pytest.raises(ValueError, match="batch_size"):
        refresh_embeddings(catalogue_database, FakeEmbedder(), batch_size=0)
    with pytest.raises(ValueError, match="returned 1 vectors for 2 texts"):
        refresh_embeddings(catalogue_database, Short(), batch_size=2)


def test_the_minilm_embedder_loads_nothing_until_used() -> None:
    embedder = MiniLMEmbedder(model_path=Path("/nonexistent"))

    assert isinstance(embedder, Embedder)
    assert embedder.model_name == MINILM_MODEL_NAME
    assert not embedder.loaded
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(FileNotFoundError):
        embedder.embed(["hello"])


class _FakeModel:
    def encode(self, texts: Sequence[str], **kwargs: object) -> np.ndarray:
        return np.ones((len(texts), 3), dtype=np.float32)


def test_the_embedder_sets_torch_threads_just_before_the_model_loads(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    original = torch.get_num_threads()
    loads: list = []

    def factory(path: str, device: str) -> _FakeModel:
        loads.append((path, device, torch.get_num_threads()))
        return _FakeModel()

    try:
        torch.set_num_threads(2)
        embedder = MiniLMEmbedder(model_path=tmp_path, torch_threads=1, model_factory=factory)
        assert torch.get_num_threads() == 2  # nothing happens before the first embed

        vectors = embedder.embed(["quiet headphones", "a laptop"])
        embedder.embed(["again"])

        assert loads == [(str(tmp_path), "cpu", 1)]
        assert torch.get_num_threads() == 1
        assert vectors == pytest.approx(np.full((2, 3), 1 / np.sqrt(3)))
    finally:
        torch.set_num_threads(original)


def test_without_a_thread_count_torch_keeps_its_own(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    original = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        embedder = MiniLMEmbedder(model_path=tmp_path, model_factory=lambda p, d: _FakeModel())
        embedder.embed(["x"])
        assert (embedder.torch_threads, torch.get_num_threads()) == (None, 2)
    finally:
        torch.set_num_threads(original)


def test_torch_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="torch_threads must be at least 1, got 0"):
        MiniLMEmbedder(torch_threads=0)
    with pytest.raises(ValueError, match="torch threads must be at least 1, got -2"):
        set_torch_threads(-2)


@pytest.mark.parametrize(
    ("environ", "threads"),
    [({}, 1), ({"ASSISTANT_TORCH_THREADS": ""}, 1), ({"ASSISTANT_TORCH_THREADS": "4"}, 4)],
)
def test_the_torch_threads_setting(environ: Dict[str, str], threads: int) -> None:
    assert Settings.from_env(environ).torch_threads == threads


@pytest.mark.parametrize("raw", ["0", "-1", "two"])
def test_a_bad_torch_threads_setting_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="ASSISTANT_TORCH_THREADS"):
        Settings.from_env({"ASSISTANT_TORCH_THREADS": raw})


def test_the_process_wide_embedder_uses_the_settings() -> None:
    assert get_embedder().torch_threads == get_settings().torch_threads
    assert get_embedder().weights == get_settings().recommender_weights


@pytest.mark.parametrize(
    ("environ", "weights"),
    [({}, "fp16"), ({"ASSISTANT_RECOMMENDER_WEIGHTS": "FP32"}, "fp32")],
)
def test_the_recommender_weights_setting(environ: Dict[str, str], weights: str) -> None:
    assert Settings.from_env(environ).recommender_weights == weights


def test_unknown_weights_are_rejected() -> None:
    with pytest.raises(ValueError, match="ASSISTANT_RECOMMENDER_WEIGHTS must be one of"):
        Settings.from_env({"ASSISTANT_RECOMMENDER_WEIGHTS": "fp8"})
    with pytest.raises(ValueError, match="weights must be one of fp32, fp16, int8, got 'fp8'"):
        MiniLMEmbedder(weights="fp8")


def test_an_uncompiled_model_keeps_fp32_weights(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    embedder = MiniLMEmbedder(
        model_path=tmp_path, weights="fp16", model_factory=lambda p, d: _FakeModel()
    )
    embedder.embed(["x"])
    assert not embedder.compiled
    assert "Query vectors stay fp32: the model is not compiled." in caplog.text


def test_the_picture_address_is_not_embedded() -> None:
    record = BY_SKU["HP-1"]
    pictured = replace(record, attributes={**record.attributes, "image_url": "https://s.example/1"})

    assert product_text(pictured) == product_text(record)
