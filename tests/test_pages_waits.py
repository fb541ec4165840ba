"""Waits that name their bound: the Language page's Granary source against a stand-in that never answers."""

from __future__ import annotations

import threading

from apptest_support import open_app, texts

from voxstudio.data import granary
from voxstudio.data.dataset import Dataset
from voxstudio.studio import waits


def test_granary_that_never_answers_says_so_within_its_bound_and_changes_nothing(home, monkeypatch):
    ds = Dataset.create("ada-en", languages=["en"], speaker="Ada", consent={"given": True})
    ds.set_phrases([{"phrase_id": "p0", "text": "Open the blue door now.", "language": "en", "source": "custom"}])
    asked = []
    released = threading.Event()

    def never_answers(repo_id, language, n, seed, cancel):  # a Granary that accepts and then stays silent
        asked.append(language)
        cancel.wait(30)
        released.set()
        raise granary.GranaryUnavailable("cancelled")

    monkeypatch.setattr(granary, "_collect", never_answers)
    monkeypatch.setattr(waits, "GRANARY_TIMEOUT_S", 0.5)
    at = open_app("pages/1_Language.py", dataset="ada-en")
    at.radio(key="lang_source").set_value("granary").run()
    assert "Granary gets up to 0.5 s to answer" in texts(at)
    at.button(key="lang_granary_load").click().run()
    assert not at.exception
    assert asked == ["en"]
    assert released.wait(5), "the silent worker is told to stop after the bound"
    notices = [i.value for i in at.info if "Granary" in i.value]
    assert notices == ["Granary did not answer within 0.5 s: showing the bundled English phrases instead "
                       "(nothing was saved; press the button to try again)."]
    assert [p["text"] for p in Dataset.open("ada-en").phrases()] == ["Open the blue door now."]
    assert Dataset.open("ada-en").info["languages"] == ["en"]


def test_granary_spinner_names_its_bound():
    assert waits.granary_spinner() == "Streaming sentences from NVIDIA Granary (up to 20 s)…"
