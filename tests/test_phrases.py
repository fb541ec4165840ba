"""Bundled phrase packs, stable ids, custom phrases and resuming at the first unrecorded phrase."""

from __future__ import annotations

import unicodedata

import pytest

from voxstudio.data import phrases as ph
from voxstudio.data.phrases import (
    LANGUAGES,
    Phrase,
    bundled_phrases,
    custom_phrases,
    load_phrases,
    next_unrecorded,
    parse_custom,
    script_ok,
    word_count,
)

GRANARY_LANGS = "bg cs da de el en es et fi fr hr hu it lt lv mt nl pl pt ro ru sk sl sv uk".split()
LICENCE_HEADER = "# licence: CC0-1.0, written for voxstudio"


def test_every_granary_language_and_hindi_has_a_pack():
    assert set(GRANARY_LANGS) | {"hi"} <= set(LANGUAGES)
    for lang in LANGUAGES:
        path = ph.PACKS_DIR / f"{lang}.txt"
        assert path.read_text(encoding="utf-8").splitlines()[0] == LICENCE_HEADER, lang


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_pack_has_sixty_unique_readable_sentences_in_the_right_script(lang):
    pack = bundled_phrases(lang)
    raw = [
        line.strip()
        for line in (ph.PACKS_DIR / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(pack) == len(raw), "a line is duplicated (case and spacing ignored)"
    assert len(pack) >= 60
    for phrase in pack:
        assert 3 <= word_count(phrase.text) <= 20, phrase.text
        assert script_ok(phrase.text, lang), f"wrong script or letter: {phrase.text}"
        assert phrase.text == unicodedata.normalize("NFC", phrase.text)
        assert phrase.language == lang and phrase.source == "bundled"
        assert phrase.phrase_id.startswith(f"{lang}-bundled-")
    assert len({p.phrase_id for p in pack}) == len(pack)
    # Variety a user would notice: questions, numbers in digits and in words.
    assert sum(p.text.rstrip().endswith(("?", ";")) for p in pack) >= 5
    assert sum(any(ch.isdigit() for ch in p.text) for p in pack) >= 5


def test_ids_are_stable_across_loads_and_ignore_case_and_spacing():
    first = bundled_phrases("en")[0]
    assert first.text == "Could you please pass me the salt?"
    assert first.phrase_id == "en-bundled-b8ef2a2b9b"  # recorded datasets rely on this never changing
    assert bundled_phrases("en") == bundled_phrases("en")
    again = ph.make_phrase("  could you   please pass me the SALT?  ", "en", "bundled")
    assert again.phrase_id == first.phrase_id
    assert ph.make_phrase(first.text, "en", "custom").phrase_id != first.phrase_id


def test_script_check_catches_wrong_scripts_and_wrong_letters():
    assert script_ok("Привет, как дела?", "ru")
    assert not script_ok("Hello there friend", "ru")
    assert not script_ok("Ти не знаєш, чи це ми?", "ru")  # Ukrainian letters
    assert not script_ok("Ми были там вчора", "uk")  # Russian ы in Ukrainian
    assert script_ok("Știi dacă piscina e deschisă azi?", "ro")
    assert not script_ok("Ştii dacă piscina e deschisă azi?", "ro")  # cedilla instead of comma below
    assert not script_ok("Γεια σου φίλε", "bg")
    assert script_ok("क्या आप मुझे नमक दे सकते हैं?", "hi")
    assert not script_ok("kya aap theek hain", "hi")
    assert not script_ok("12 34 56", "en")  # no letters at all


def test_phrase_round_trips_through_dict():
    phrase = bundled_phrases("sv")[3]
    assert Phrase.from_dict(phrase.to_dict()) == phrase
    rebuilt = Phrase.from_dict({"text": phrase.text, "language": "sv", "source": "bundled"})
    assert rebuilt.phrase_id == phrase.phrase_id
    with pytest.raises(ValueError, match="missing text"):
        Phrase.from_dict({"language": "sv", "source": "bundled"})


def test_pasted_lines_are_cleaned_and_bad_lines_explained():
    long_line = " ".join(["word"] * 70)
    pasted = "Hello there, how are you?\n\n   \nhello THERE,   how are you?\n" + long_line + "\n---\nSee you at 5 pm.\n"
    parsed = parse_custom(pasted, "en")
    assert [p.text for p in parsed.phrases] == ["Hello there, how are you?", "See you at 5 pm."]
    assert all(p.source == "custom" and p.phrase_id.startswith("en-custom-") for p in parsed.phrases)
    reasons = {s.line: s.reason for s in parsed.skipped}
    assert reasons[2] == "empty line" and reasons[3] == "empty line"
    assert reasons[4] == "duplicate of line 1"
    assert reasons[5].startswith("too long (70 words")
    assert reasons[6] == "no words in it"
    assert custom_phrases(pasted, "en") == parsed.phrases


def test_txt_upload_bytes_with_bom_and_crlf():
    data = "\ufeffDobrý den, jak se máte?\r\nVlak jede v 8:15.\r\n".encode()
    got = custom_phrases(data, "cs", filename="moje věty.txt")
    assert [p.text for p in got] == ["Dobrý den, jak se máte?", "Vlak jede v 8:15."]


def test_csv_upload_uses_text_column_or_first_column():
    with_header = b'id,text,speaker\n1,"Hej, hur m\xc3\xa5r du?",anna\n2,Tack s\xc3\xa5 mycket,anna\n3,,anna\n'
    parsed = parse_custom(with_header, "sv", filename="phrases.csv")
    assert [p.text for p in parsed.phrases] == ["Hej, hur mår du?", "Tack så mycket"]
    assert [(s.line, s.reason) for s in parsed.skipped] == [(4, "empty line")]
    no_header = b"Guten Morgen zusammen;1\nBis morgen dann;2\n"
    assert [p.text for p in custom_phrases(no_header, "de", filename="x.CSV")] == [
        "Guten Morgen zusammen",
        "Bis morgen dann",
    ]


def test_unreadable_uploads_get_a_clear_message():
    with pytest.raises(ValueError, match="not UTF-8"):
        custom_phrases("Hé là".encode("latin-1"), "fr", filename="a.txt")
    with pytest.raises(ValueError, match=r"\.txt file"):
        custom_phrases(b"%PDF-1.4", "fr", filename="a.pdf")
    with pytest.raises(ValueError, match="None of these lines"):
        load_phrases("en", "custom", custom="\n \n---\n")


def test_load_phrases_bundled_custom_and_sampling():
    everything = load_phrases("fr")
    assert everything.notice is None and everything.source == "bundled"
    assert everything.phrases == bundled_phrases("fr")
    some = load_phrases("fr", n=10, seed=3)
    assert len(some.phrases) == 10 and some.phrases == load_phrases("fr", n=10, seed=3).phrases
    assert some.phrases != load_phrases("fr", n=10, seed=4).phrases
    order = [p.phrase_id for p in everything.phrases]
    assert [order.index(p.phrase_id) for p in some.phrases] == sorted(order.index(p.phrase_id) for p in some.phrases)
    custom = load_phrases("en", "custom", custom="One two three\none TWO three\nFour five six\n")
    assert custom.source == "custom" and len(custom.phrases) == 2
    assert custom.notice == "Skipped 1 line: line 2 (duplicate of line 1)."
    with pytest.raises(ValueError, match="no phrase pack"):
        load_phrases("xx")
    with pytest.raises(ValueError, match="Unknown phrase source"):
        load_phrases("en", "web")


def test_next_unrecorded_resumes_at_the_first_gap():
    pack = bundled_phrases("de")[:5]
    ids = [p.phrase_id for p in pack]
    assert next_unrecorded(pack, set()) == 0
    assert next_unrecorded(pack, set(ids[:3])) == 3
    assert next_unrecorded(pack, {ids[0], ids[2]}) == 1
    assert next_unrecorded(pack, {ids[0], ids[2]}, after=1) == 3  # Skip moves past the current one
    assert next_unrecorded(pack, set(ids[1:]), after=3) == 0  # wraps around
    assert next_unrecorded(pack, set(ids)) is None
    assert next_unrecorded([], set()) is None
