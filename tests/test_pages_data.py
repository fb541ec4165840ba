"""Home and pages 1–3 driven through Streamlit's AppTest, against a real dataset on disk."""

from __future__ import annotations

import io
import json
import os
import stat

import numpy as np
import pytest
import soundfile as sf
from apptest_support import open_app, texts

from voxstudio.data import quality
from voxstudio.data.dataset import Dataset
from voxstudio.runs import hardware
from voxstudio.studio import formatting, wizard

PAGES = ["Home.py", "pages/1_Language.py", "pages/2_Record.py", "pages/3_Review.py"]


def wav_bytes(path, *, sr: int | None = None, stereo: bool = False) -> bytes:
    """A real fixture clip as WAV bytes, optionally resampled (naively) and/or made stereo."""
    data, rate = sf.read(path, dtype="float32", always_2d=False)
    if data.ndim > 1:
        data = data.mean(axis=1)
    if sr and sr != rate:
        idx = np.linspace(0, len(data) - 1, int(len(data) * sr / rate))
        data, rate = np.interp(idx, np.arange(len(data)), data).astype("float32"), sr
    if stereo:
        data = np.stack([data, data * 0.8], axis=1)
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def nvidia_smi_on_path(tmp_path, monkeypatch, script: str) -> None:
    """A real executable named nvidia-smi first on PATH, answering with ``script`` like the driver's tool."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "nvidia-smi"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def en_clips(clips):
    return [c for c in clips if c["language"] == "en" and str(c["path"]).endswith(".wav")]


@pytest.fixture
def populated(home, clips) -> Dataset:
    """A dataset with five phrases, three of them recorded from real speech, plus one imported clip."""
    ds = Dataset.create("ada-en", languages=["en"], speaker="Ada", consent={"given": True})
    rows = en_clips(clips)[:5]
    ds.set_phrases([{"phrase_id": f"p{i}", "text": r["text"], "language": "en", "source": "custom"}
                    for i, r in enumerate(rows)])
    for i, r in enumerate(rows[:3]):
        ds.add_clip(r["path"], r["text"], language="en", speaker="Ada", phrase_id=f"p{i}", source="record")
    fr = next(c for c in clips if c["language"] == "fr")
    ds.add_clip(fr["path"], fr["text"], language="fr", speaker="Bea", source="import")
    return ds


@pytest.mark.parametrize("page", PAGES)
def test_pages_render_on_an_empty_workspace(home, page):
    at = open_app(page)
    shown = texts(at)
    if page in ("pages/2_Record.py", "pages/3_Review.py"):
        assert "No dataset selected yet" in shown
    if page == "Home.py":
        assert "Create your first dataset" in shown
        assert str(home) in shown  # the workspace path
        assert "1 Language → 2 Record → 3 Review → 4 Train → 5 Evaluate → 6 Publish → 7 Try" in shown


@pytest.mark.parametrize("page", PAGES)
def test_pages_render_on_a_populated_workspace(populated, page):
    at = open_app(page, dataset=populated.name)
    shown = texts(at)
    if page == "Home.py":
        table = at.dataframe[0].value
        assert table.loc[0, "dataset"] == "ada-en" and table.loc[0, "clips"] == 4
        assert table.loc[0, "minutes"] > 0 and table.loc[0, "phrases recorded"] == "3 / 5"
    elif page == "pages/2_Record.py":
        assert "Phrase **4** of 5" in shown  # resumes at the first unrecorded phrase
        assert "3 of 5 phrases recorded" in at.get("progress")[0].proto.text
    elif page == "pages/3_Review.py":
        assert len(at.data_editor[0].value) == 4
        assert "Clips 4" in shown and "Speakers 2" in shown
    assert at.query_params["dataset"] in ("ada-en", ["ada-en"])  # a reload keeps the dataset


def test_home_shows_hub_login_and_hardware(home, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    hardware.detect.cache_clear()
    assert "Not logged in" in texts(open_app())

    nvidia_smi_on_path(tmp_path, monkeypatch, "echo 'NVIDIA H100 80GB HBM3, 81559, 1024'")
    monkeypatch.setenv("HF_TOKEN", "hf_test_not_a_real_token")
    hardware.detect.cache_clear()
    try:
        shown = texts(open_app())
    finally:
        hardware.detect.cache_clear()
    assert "NVIDIA H100 80GB HBM3 · 79.6 GiB" in shown
    assert "HF_TOKEN** is set" in shown and "hf_test_not_a_real_token" not in shown


def test_hardware_falls_back_to_cpu_when_nvidia_smi_fails(tmp_path, monkeypatch):
    nvidia_smi_on_path(tmp_path, monkeypatch,
                       "echo 'NVIDIA-SMI has failed because it could not communicate' >&2\nexit 9")
    found = hardware.probe()
    assert not found.has_gpu and found.summary().startswith("CPU only")
    assert "could not communicate" in found.note


def test_language_page_creates_a_dataset_with_consent(home):
    at = open_app("pages/1_Language.py")
    at.selectbox(key="lang_language").set_value("fr").run()
    at.text_input(key="lang_speaker").set_value("Ada Lovelace").run()
    preview = at.dataframe[0].value
    assert len(preview) == 60

    # Without consent nothing is created.
    at.button(key="lang_create").click().run()
    assert "consent" in " ".join(e.value for e in at.error)
    assert not (home / "datasets" / "ada-lovelace-fr").exists()

    # A name that is not a safe slug is refused with a sentence, nothing created.
    at.text_input(key="lang_name").set_value("../evil").run()
    at.checkbox(key="lang_consent").check().run()
    at.button(key="lang_create").click().run()
    assert "not allowed" in " ".join(e.value for e in at.error)
    assert [p.name for p in (home / "datasets").iterdir() if not p.name.startswith(".")] == []

    at.text_input(key="lang_name").set_value("").run()  # empty: the suggestion from speaker + language
    at.button(key="lang_create").click().run()
    assert not at.exception
    info = json.loads((home / "datasets" / "ada-lovelace-fr" / "dataset.json").read_text())
    assert info["consent"]["given"] is True and info["consent"]["speaker"] == "Ada Lovelace"
    assert info["speakers"] == ["Ada Lovelace"] and info["languages"] == ["fr"]
    phrases = Dataset.open("ada-lovelace-fr").phrases()
    assert len(phrases) == 60 and all(p["language"] == "fr" for p in phrases)
    assert at.session_state["current_dataset"] == "ada-lovelace-fr"
    assert at.radio(key="lang_mode").value == "existing"  # the form now shows the dataset just created
    assert at.selectbox(key="lang_existing").value == "ada-lovelace-fr"


def test_language_page_custom_phrases_into_an_existing_dataset(populated):
    at = open_app("pages/1_Language.py", dataset=populated.name)
    at.radio(key="lang_source").set_value("custom").run()
    at.text_area(key="lang_custom_text").set_value("Open the blue door now.\n\nClose the red window please.\n").run()
    assert list(at.dataframe[0].value["phrase"]) == ["Open the blue door now.", "Close the red window please."]
    assert at.radio(key="lang_mode").value == "existing"
    at.button(key="lang_save").click().run()
    assert not at.exception
    assert [p["text"] for p in populated.phrases()] == ["Open the blue door now.", "Close the red window please."]
    assert len(populated.clips()) == 4  # recordings are kept when the phrase list changes


def test_a_recorded_take_lands_on_disk_as_16k_mono(populated, clips):
    at = open_app("pages/2_Record.py", dataset=populated.name)
    phrase = populated.phrases()[3]
    take = wav_bytes(en_clips(clips)[3]["path"], sr=48000, stereo=True)  # what a browser might send
    at.audio_input(key="rec_take_0").upload("take.wav", take).run()
    assert not at.exception

    row = [c for c in populated.clips() if c.phrase_id == phrase["phrase_id"]]
    assert len(row) == 1 and row[0].text == phrase["text"] and row[0].source == "record"
    assert row[0].speaker == "Ada" and row[0].language == "en"
    info = sf.info(populated.audio_path(row[0]))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert abs(info.duration - row[0].duration_s) < 0.05 and row[0].duration_s > 1.0
    meta = (populated.path / "metadata.jsonl").read_text().splitlines()
    assert json.loads(meta[-1])["file_name"] == f"audio/{row[0].clip_id}.wav"

    shown = texts(at)
    assert "Last take" in shown and "✓ Saved. The take sounds fine." in shown  # a clean, loud-enough take
    assert "please check" not in shown and not row[0].flags
    assert "Phrase **5** of 5" in shown  # a clean take moves on to the next unrecorded phrase
    assert at.audio_input(key="rec_take_1").value is None  # a fresh widget for the next take


def test_rerecord_keeps_the_old_take_until_the_new_one_is_saved(populated, clips):
    at = open_app("pages/2_Record.py", dataset=populated.name)
    at.button(key="rec_back").click().run()  # phrase 3, already recorded
    assert "Phrase **3** of 5 · ✓ recorded" in texts(at)
    old = [c for c in populated.clips() if c.phrase_id == "p2"]
    at.button(key="rec_rerecord").click().run()

    at.audio_input[0].upload("take.wav", b"RIFF\x00\x00\x00\x00WAVEjunk").run()  # a broken take
    assert "Not saved" in texts(at)
    assert [c.clip_id for c in populated.clips() if c.phrase_id == "p2"] == [old[0].clip_id]

    at.audio_input[0].upload("take.wav", wav_bytes(en_clips(clips)[2]["path"])).run()
    assert "duplicate" in texts(at)  # the very same audio again is refused, the old take stays

    at.audio_input[0].upload("take.wav", wav_bytes(en_clips(clips)[2]["path"], sr=22050)).run()
    now = [c for c in populated.clips() if c.phrase_id == "p2"]
    assert len(now) == 1 and now[0].clip_id != old[0].clip_id
    assert old[0].clip_id in [c.clip_id for c in populated.trashed()]  # replaced, not lost


def test_record_navigation_and_upload_tab(populated, clips):
    at = open_app("pages/2_Record.py", dataset=populated.name)
    at.button(key="rec_skip").click().run()
    assert "Phrase **5** of 5" in texts(at)
    at.button(key="rec_next").click().run()
    assert "All done" in texts(at)

    fr = [c for c in clips if c["language"] == "fr"][1]
    files = [("allume.wav", fr["path"].read_bytes(), "audio/wav"),
             ("allume.txt", fr["text"].encode(), "text/plain")]
    at.file_uploader(key="rec_upload_0").set_value(files).run()
    at.selectbox(key="rec_upload_language").set_value("fr").run()
    at.button(key="rec_import").click().run()
    assert "Imported 1 clips" in texts(at)
    assert any(c.text == fr["text"] and c.language == "fr" for c in populated.clips())


def test_review_edits_deletes_and_restores(populated):
    at = open_app("pages/3_Review.py", dataset=populated.name)
    editor = at.data_editor[0]
    first, second, third = (editor.value.loc[n, "clip_id"] for n in range(3))
    at.session_state[editor.key] = {"edited_rows": {0: {"text": "cancel the kitchen timer"}}, "added_rows": [],
                                    "deleted_rows": []}
    at.run()
    assert not at.exception
    assert populated.get(first).text == "cancel the kitchen timer"
    assert "updated 1 transcript" in texts(at)

    # A tick only marks: nothing is deleted until the move button, and the move can be undone.
    editor = at.data_editor[0]
    at.session_state[editor.key] = {"edited_rows": {1: {"delete": True}, 2: {"delete": True}}, "added_rows": [],
                                    "deleted_rows": []}
    at.run()
    assert "2 clips ticked for deletion" in texts(at)
    assert len(populated.clips()) == 4
    before = {cid: populated.audio_bytes(cid) for cid in (second, third)}
    at.button(key="rev_move").click().run()
    assert {second, third}.isdisjoint(c.clip_id for c in populated.clips())
    assert "Moved 2 clips to the trash." in texts(at) and len(at.data_editor[0].value) == 2
    at.button(key="rev_undo_button").click().run()
    assert "✓ Restored 2 clips." in texts(at) and len(at.data_editor[0].value) == 4
    assert {cid: populated.audio_bytes(cid) for cid in (second, third)} == before
    assert not [b for b in at.button if b.key == "rev_undo_button"]  # one undo per move

    # The trash restores too.
    editor = at.data_editor[0]
    at.session_state[editor.key] = {"edited_rows": {1: {"delete": True}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="rev_move").click().run()
    at.button(key="rev_restore").click().run()
    assert second in {c.clip_id for c in populated.clips()}
    assert len(at.data_editor[0].value) == 4

    # An empty transcript is refused with a message and changes nothing.
    editor = at.data_editor[0]
    at.session_state[editor.key] = {"edited_rows": {0: {"text": "   "}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert populated.get(first).text == "cancel the kitchen timer"


def test_review_undo_restores_what_it_can_and_says_why_not_for_the_rest(populated, clips):
    at = open_app("pages/3_Review.py", dataset=populated.name)
    editor = at.data_editor[0]
    keep, gone = editor.value.loc[0, "clip_id"], editor.value.loc[1, "clip_id"]
    text, wav = editor.value.loc[1, "text"], populated.audio_bytes(gone)
    at.session_state[editor.key] = {"edited_rows": {0: {"delete": True}, 1: {"delete": True}}, "added_rows": [],
                                    "deleted_rows": []}
    at.run()
    at.button(key="rev_move").click().run()
    data, sr = sf.read(io.BytesIO(wav), dtype="float32")
    populated.add_clip(data, text, language="en", source="import")  # the same take, imported again since
    at.button(key="rev_undo_button").click().run()
    assert keep in {c.clip_id for c in populated.clips()}
    assert gone not in {c.clip_id for c in populated.clips()}
    assert any(gone in e.value and "✓ Restored 1 clip." in e.value for e in at.error)


def test_review_players_full_flags_and_mark_fine_next_to_the_clip(home, clips):
    ds = Dataset.create("flags", languages=["en"], speaker="Ada")
    data, sr = sf.read(en_clips(clips)[0]["path"], dtype="float32")
    ds.add_clip(data, "a clean clip", language="en", source="import")
    ds.add_clip(data[: sr // 4], "far too short", language="en", source="import")
    at = open_app("pages/3_Review.py", dataset="flags")
    assert len(at.get("audio")) == 2  # one player per clip of the page, no dropdown
    short = next(c for c in ds.clips() if c.text == "far too short")
    sentence = " ".join(formatting.flag_lines(short.flags))
    assert sentence and any(sentence in c.value for c in at.caption)  # every flag spelled out
    at.button(key=f"rev_keep_{short.clip_id}").click().run()
    assert ds.get(short.clip_id).reviewed == quality.KEEP
    table = at.data_editor[0].value
    assert table[table["clip_id"] == short.clip_id]["training"].iloc[0] == "kept: marked fine"
    at.button(key=f"rev_unkeep_{short.clip_id}").click().run()  # the same place undoes it
    assert ds.get(short.clip_id).reviewed != quality.KEEP


def test_review_filters(populated):
    at = open_app("pages/3_Review.py", dataset=populated.name)
    at.selectbox(key="rev_language").set_value("fr").run()
    assert list(at.data_editor[0].value["language"]) == ["fr"]
    at.selectbox(key="rev_language").set_value("(all)").run()
    at.text_input(key="rev_search").set_value("TIMER").run()
    assert all("timer" in t.lower() for t in at.data_editor[0].value["text"])
    at.text_input(key="rev_search").set_value("").run()
    at.selectbox(key="rev_speaker").set_value("Bea").run()
    assert list(at.data_editor[0].value["speaker"]) == ["Bea"]
    at.text_input(key="rev_search").set_value("no such words").run()
    assert not at.exception and "No clip matches these filters" in texts(at)


def test_a_flagged_take_is_kept_and_shown_with_a_rerecord_hint(populated, clips):
    at = open_app("pages/2_Record.py", dataset=populated.name)
    data, sr = sf.read(en_clips(clips)[3]["path"], dtype="float32")
    buf = io.BytesIO()
    sf.write(buf, data * 0.005, sr, format="WAV", subtype="PCM_16")  # far too quiet
    at.audio_input(key="rec_take_0").upload("take.wav", buf.getvalue()).run()
    shown = texts(at)
    assert "please check" in shown and "Re-record" in shown
    assert "Phrase **4** of 5 · ✓ recorded" in shown  # stays on the phrase so it can be recorded again
    saved = [c for c in populated.clips() if c.phrase_id == "p3"]
    assert len(saved) == 1 and saved[0].flags
    assert at.button(key="rec_rerecord").disabled is False


def test_review_paginates_fifty_rows_a_page(home, clips):
    ds = Dataset.create("many", languages=["en"], speaker="Ada")
    data, sr = sf.read(en_clips(clips)[0]["path"], dtype="float32")
    assert sr == 16000
    for i in range(60):
        ds.add_clip(data * (0.5 + i / 200), f"cancel timer number {i}", language="en", source="import")
    at = open_app("pages/3_Review.py", dataset="many")
    assert len(at.data_editor[0].value) == 50
    assert "60 of 60 clips match" in texts(at)
    at.get("pagination")[0].set_value(2).run()
    rows = at.data_editor[0].value
    assert list(rows["text"]) == [f"cancel timer number {i}" for i in range(50, 60)]


def test_language_page_custom_phrases_from_a_csv_upload(home):
    at = open_app("pages/1_Language.py")
    at.radio(key="lang_source").set_value("custom").run()
    csv = "text,notes\nTurn on the kitchen lights.,a\n,empty\nSet a timer for ten minutes.,b\n"
    at.file_uploader(key="lang_custom_file").set_value(("mine.csv", csv.encode(), "text/csv")).run()
    assert list(at.dataframe[0].value["phrase"]) == ["Turn on the kitchen lights.", "Set a timer for ten minutes."]
    assert "Skipped 1 line" in texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_pages_render_for_a_dataset_with_no_clips_and_no_phrases(home, page):
    Dataset.create("fresh", languages=["de"], speaker="Ada")
    at = open_app(page, dataset="fresh")
    shown = texts(at)
    if page == "pages/2_Record.py":
        assert "no phrases to read yet" in shown
    elif page == "pages/3_Review.py":
        assert "No clips yet" in shown and "Clips 0" in shown
    elif page == "Home.py":
        assert "Choose the phrases for 'fresh'" in shown


def test_record_resumes_from_disk_when_the_phrase_list_changes(populated):
    at = open_app("pages/2_Record.py", dataset=populated.name)
    assert "Phrase **4** of 5" in texts(at)
    phrases = populated.phrases()
    populated.set_phrases([phrases[0], {"phrase_id": "new1", "text": "A brand new phrase to read.",
                                        "language": "en", "source": "custom"}])
    at.run()
    assert "Phrase **2** of 2" in texts(at) and "1 of 2 phrases recorded" in at.get("progress")[0].proto.text


def test_next_step_follows_the_data_on_disk():
    assert wizard.next_step([])[0] == 1
    assert wizard.next_step([{"name": "a", "clips": 0, "phrases": 0, "recorded_phrases": 0}])[0] == 1
    assert wizard.next_step([{"name": "a", "clips": 0, "phrases": 60, "recorded_phrases": 0}])[0] == 2
    step, why = wizard.next_step([{"name": "a", "clips": 5, "phrases": 60, "recorded_phrases": 5}])
    assert step == 2 and "55 phrases left" in why
    assert wizard.next_step([{"name": "a", "clips": 80, "phrases": 60, "recorded_phrases": 60}])[0] == 3
    assert [formatting.fmt_duration(s) for s in (4.25, 42, 754, 7300)] == ["4.2 s", "42 s", "12 min 34 s", "2 h 01 min"]
    assert hardware.parse_nvidia_smi("A100-SXM4-40GB, 40960, 3\nBroken, [N/A], [N/A]\n") == (
        hardware.Gpu("A100-SXM4-40GB", 40960, 3),
    )


def test_the_page_registry_names_every_page_file_and_only_those():
    """Links go through wizard.STEPS, so each registered file must exist and no page may be left out of it."""
    from conftest import ROOT

    assert [s.number for s in wizard.STEPS] == list(range(1, len(wizard.STEPS) + 1))
    for s in wizard.STEPS:
        assert s.page == f"pages/{s.number}_{s.name}.py" and (ROOT / s.page).is_file(), s
        assert wizard.step(s.number) is s
    for extra in wizard.EXTRA_PAGES:  # pages outside the numbered steps (Compare): numbered after them
        assert (ROOT / extra.page).is_file() and wizard.extra_page(extra.name) is extra, extra
        assert extra.page.endswith(f"_{extra.name}.py") and extra.page not in [s.page for s in wizard.STEPS]
    registered = [s.page for s in wizard.STEPS] + [p.page for p in wizard.EXTRA_PAGES]
    assert sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")) == sorted(registered)
    assert (ROOT / wizard.HOME_PAGE).is_file()
    with pytest.raises(KeyError):
        wizard.step(len(wizard.STEPS) + 1)


def test_links_open_the_registered_page_with_the_current_dataset(populated):
    at = open_app("pages/3_Review.py", dataset=populated.name)
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    nxt = links["Next: train a model on these clips · 4 · Train →"]
    assert nxt.page == wizard.step(4).name and nxt.page_script_hash  # Streamlit resolved the registered file
    assert nxt.query_string == "dataset=ada-en"
    assert "open it from the sidebar" not in texts(at)
