"""The one test with the real MiniLM model (slow: run with --slow)."""

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from actions.catalogue_files import load_seed_catalogue
from actions.catalogue_store import CatalogueRepository
from actions.needs import StatedNeed, parse_need
from actions.recommender.embeddings import MINILM_DIMENSION, MiniLMEmbedder
from actions.recommender.payloads import Recommendations, SearchRequest
from actions.recommender.service import Recommender
from tests.actions.recommender.support import empty_database

# Ten products of the seed catalogue: two noise-cancelling headphones, four
# without (studio, open-back, bone conduction), and four other products.
SKUS = (
    "HPH-10425", "HPH-10470", "HPH-10422", "HPH-10483", "HPH-10656",
    "HPH-10612", "LAP-10297", "TVS-10123", "SWT-10219", "BPK-10107",
)  # fmt: skip


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real model, loaded once for the whole session."""
    return MiniLMEmbedder()


@pytest.fixture
def real_recommender(tmp_path: Path, minilm: MiniLMEmbedder) -> Iterator[Recommender]:
    seed = {record.sku: record for record in load_seed_catalogue()}
    database = empty_database(tmp_path / "real.db")
    CatalogueRepository(database).upsert_many([seed[sku] for sku in SKUS])
    yield Recommender(database, minilm)
    database.dispose()


@pytest.mark.slow
def test_minilm_ranks_a_noise_cancelling_headphone_first_for_flights(
    real_recommender: Recommender, minilm: MiniLMEmbedder
) -> None:
    text = "noise cancelling headphones for flights"

    # Semantics alone: no category, feature or budget parsed from the text.
    semantic = real_recommender.recommend(SearchRequest(StatedNeed(text)), top_k=3)
    # The whole path: parsed need, hard filters, feature match, rating prior.
    parsed = real_recommender.recommend(SearchRequest(parse_need(text)), top_k=3)
    studio = real_recommender.recommend(
        SearchRequest(StatedNeed("headphones for mixing music in the studio")), top_k=1
    )

    assert isinstance(semantic, Recommendations) and isinstance(parsed, Recommendations)
    assert isinstance(studio, Recommendations)
    by_sku = {record.sku: record for record in real_recommender.products(SKUS)}
    for result in (semantic, parsed):
        first = by_sku[result.items[0].sku]
        assert first.category_key == "headphones"
        assert first.attributes["noise_cancelling"] is True
    assert "noise cancelling" in parsed.items[0].reasons
    assert by_sku[studio.items[0].sku].attributes["noise_cancelling"] is False
    assert real_recommender.index.size == len(SKUS)
    vectors = minilm.embed(["quiet", "loud"])
    assert vectors.shape == (2, MINILM_DIMENSION) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


@pytest.mark.slow
def test_compiled_vectors_are_sentence_transformers_vectors(minilm: MiniLMEmbedder) -> None:
    seed = load_seed_catalogue()
    # One-word queries, long product texts (truncated at the model's 256 tokens)
    # and batches that are split and padded.
    texts = ["quiet", "noise cancelling headphones under 300 euros", "x " * 400]
    texts += [f"{record.title}. {record.description}" for record in seed[:40]]
    compiled = minilm.embed(texts)
    assert minilm.compiled
    model = minilm._load()
    expected = model.encode(texts, batch_size=32, normalize_embeddings=True)
    np.testing.assert_allclose(compiled, expected, atol=2e-6)
    uncompiled = MiniLMEmbedder(torchscript=False)
    np.testing.assert_allclose(uncompiled.embed(texts[:3]), compiled[:3], atol=2e-6)
    assert not uncompiled.compiled


@pytest.mark.slow
def test_fp16_weights_give_nearly_the_fp32_vectors(minilm: MiniLMEmbedder) -> None:
    seed = load_seed_catalogue()
    texts = ["quiet", "noise cancelling headphones under 300 euros", "something cheaper please"]
    texts += [f"{record.title}. {record.description}" for record in seed[:20]]
    half = MiniLMEmbedder(weights="fp16")
    vectors = half.embed(texts)
    assert half.compiled
    reference = minilm.embed(texts)
    assert np.abs(vectors - reference).max() < 1e-3
    assert (vectors * reference).sum(axis=1).min() > 0.9999  # cosine similarity
