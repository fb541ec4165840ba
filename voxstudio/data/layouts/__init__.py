"""The dataset layouts an import reads (``voxstudio.data.importers`` is the entry point and says which one it
found): ``source`` (items, plans, where a name may be looked up), ``untrusted`` (reading text a source wrote),
``archive`` (unpacking a zip safely), ``manifests`` (JSONL / NeMo / AudioFolder / CSV manifests, a folder of audio
with ``.txt`` transcripts, loose uploads), ``corpora`` (Common Voice, LJ Speech, Kaldi), ``hfdata`` (Hugging Face
datasets) and ``detect`` (which layout a path holds, ``--format``). Stdlib only at module level.
"""
